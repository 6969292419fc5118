-- depends_on: {{ ref('int_buyers_summarised') }}, {{ ref('int_orders_placed') }}
-- Carts: a shopper's run of adds since their previous paid order, and when a paid order followed its first add.
-- Whether an unpaid cart counts as abandoned depends on the newest event in the warehouse, so that is decided
-- in fct_cart_abandonment, not here.

-- Incremental by shopper: a build recomputes the carts of the shoppers this run staged events for, of every
-- merged shopper (a merged person's own rows are deleted by a pre-hook), and of every shopper whose paid orders
-- this run can have changed (buyers_touched_this_run(): the shoppers of the orders it recomputed, before and after;
-- every buyer while payments are the client's reports), and no others. Only those shoppers' paid orders are read.

{{ per_shopper_incremental_config() }}

with

{%- set paid_orders_changed -%}
    {{ buyers_touched_this_run() }}
    union
    -- while payments are the client's reports (and when verified ones replace them), every shopper with a cart
    select person_id from {{ this }} where {{ every_buyer_is_touched() }}
    union
    select person_id from {{ ref('int_buyers_summarised') }} where {{ every_buyer_is_touched() }}
{%- endset %}

-- a few thousand rows in an incremental build, read twice
events as {% if is_incremental() %}materialized{% else %}not materialized{% endif %} (

    select * from ({{ events_of_shoppers_to_rebuild(also_touched=paid_orders_changed) }})
    where event_name = 'Product Added'

),

paid_orders as (

    select * from {{ ref('int_orders_paid') }}
    {%- if is_incremental() %}
    where person_id in (select person_id from events)
    {%- endif %}

),

numbered_orders as (

    -- orders paid at or before each payment (orders paid at the same instant count together)
    select person_id, paid_at, count(*) over (partition by person_id order by paid_at) as orders_so_far
    from paid_orders

),

adds as (

    -- The cart an add belongs to: how many paid orders the shopper had before it (the as-of join finds the
    -- last order paid strictly before the add).
    select
        events.person_id,
        events.event_at,
        events.product_id,
        coalesce(events.quantity, 1) * coalesce(events.price_fen, 0) as value_fen,
        coalesce(numbered_orders.orders_so_far, 0) as orders_before
    from events
    asof left join numbered_orders
        on numbered_orders.person_id = events.person_id
        and events.event_at > numbered_orders.paid_at

),

carts as (

    select
        person_id,
        orders_before,
        min(event_at) as first_added_at,
        max(event_at) as last_added_at,
        count(*) as adds,
        count(distinct product_id) as products,
        sum(value_fen)::bigint as value_fen
    from adds
    group by all

),

next_order as (

    select
        carts.person_id,
        carts.orders_before,
        min(paid_orders.paid_at) as converted_at
    from carts
    inner join paid_orders
        on paid_orders.person_id = carts.person_id
        and paid_orders.paid_at >= carts.first_added_at
    group by all

),

final as (

    select
        carts.person_id || '#' || carts.orders_before as cart_id,
        carts.person_id,
        carts.first_added_at,
        carts.last_added_at,
        carts.adds,
        carts.products,
        carts.value_fen,
        next_order.converted_at,
        timestamptz '{{ run_started_at }}' as built_at
    from carts
    left join next_order using (person_id, orders_before)

)

select * from final
