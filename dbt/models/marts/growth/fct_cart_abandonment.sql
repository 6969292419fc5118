-- The batch truth of abandoned carts: a cart is a shopper's run of adds since their previous paid order. It
-- converted when a paid order followed its first add; it is abandoned when it did not and its last add is more
-- than var('cart_abandoned_after_minutes') older than the newest event in the warehouse. The streams' real-time
-- cart agent is checked against this.

-- The carts themselves are int_carts_assembled (incremental per shopper); only the verdict, which moves with
-- the newest event, is decided here.

-- Incremental by cart: a build redoes the carts int_carts_assembled rebuilt in this run (a pre-hook first deletes
-- every row of their shoppers and of shoppers who have no cart there any more, such as merged people, so a cart
-- that no longer exists goes too) and every cart
-- still open (neither converted nor abandoned), whose verdict moves with the newest event. A verdict once
-- reached stays until the cart itself is rebuilt: the newest event only moves forward (an erasure rebuilds in
-- full), and a cart's conversion only changes through its shopper's paid orders, which rebuild the cart.

{{ config(
    materialized='incremental',
    unique_key='cart_id',
    incremental_strategy='delete+insert',
    on_schema_change='ignore',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where person_id in (select person_id from "
        ~ "{{ ref('int_carts_assembled') }} where built_at = timestamptz '{{ run_started_at }}') or person_id "
        ~ "not in (select person_id from {{ ref('int_carts_assembled') }}){% endif %}"
) }}

with

carts as (

    select * from {{ ref('int_carts_assembled') }}
    {%- if is_incremental() %}
    where built_at = timestamptz '{{ run_started_at }}'
        or cart_id in (select cart_id from {{ this }} where not is_converted and not is_abandoned)
    {%- endif %}

),

newest as (

    -- every shopper's newest event: the newest event in the warehouse
    select max(last_seen_at) as newest_event_at from {{ ref('int_users_profiled') }}

),

final as (

    select
        carts.cart_id,
        carts.person_id,
        carts.first_added_at,
        carts.last_added_at,
        {{ shop_date('carts.last_added_at') }} as last_added_date,
        carts.adds,
        carts.products,
        carts.value_fen,
        carts.converted_at,
        carts.converted_at is not null as is_converted,
        carts.converted_at is null
            and carts.last_added_at
                < newest.newest_event_at - to_minutes({{ var('cart_abandoned_after_minutes') }})
            as is_abandoned,
        timestamptz '{{ run_started_at }}' as built_at
    from carts
    cross join newest

)

select * from final
