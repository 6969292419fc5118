{#- The buyers whose orders this run can have changed, for the models incremental per buyer: the shopper of every
    order int_orders_placed or int_orders_paid computed in this run, the shopper such an order belonged to before
    (previous_person_id: an order can move to another shopper), and every merged person and shopper. -#}
{% macro buyers_touched_this_run() -%}
    select person_id from {{ ref('int_orders_placed') }} where built_at = timestamptz '{{ run_started_at }}'
    union
    select previous_person_id from {{ ref('int_orders_placed') }}
    where built_at = timestamptz '{{ run_started_at }}' and previous_person_id is not null
    union
    select person_id from {{ ref('int_orders_paid') }} where built_at = timestamptz '{{ run_started_at }}'
    union
    select person_id from {{ ref('int_people_merged') }}
    union
    select shopper_id from {{ ref('int_people_merged') }}
{%- endmacro %}

{#- True when a model incremental per buyer must redo every buyer in this run: no order was paid before it. Paid orders
    are then the client's reports, all recomputed on every build (int_orders_paid), and the first verified payment
    replaces them all. -#}
{% macro every_buyer_is_touched() -%}
    not exists (
        select 1 from {{ ref('int_orders_placed') }}
        where paid_at is not null and built_at < timestamptz '{{ run_started_at }}'
    )
{%- endmacro %}

{#- A filter on `column` (a person_id) keeping the buyers this run must redo: in a full build every row. -#}
{% macro is_buyer_to_rebuild(column='person_id') -%}
    {%- if is_incremental() -%}
    ({{ column }} in ({{ buyers_touched_this_run() }}) or {{ every_buyer_is_touched() }})
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}
