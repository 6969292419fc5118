-- One row per refund that succeeded, with when it was requested and why.

with

order_events as not materialized (

    select * from {{ ref('stg_order_book__events') }}

),

requested as (

    select
        refund_id,
        min(occurred_at) as requested_at,
        arg_min(reason, occurred_at) as reason
    from order_events
    where event_name = 'RefundRequested'
    group by refund_id

),

succeeded as (

    select *
    from order_events
    where event_name = 'RefundSucceeded'

),

final as (

    select
        succeeded.refund_id,
        succeeded.order_id,
        succeeded.user_id,
        succeeded.amount_fen,
        {{ fen_to_yuan('succeeded.amount_fen') }} as amount_yuan,
        requested.reason,
        requested.requested_at,
        succeeded.occurred_at as refunded_at,
        succeeded.occurred_date as refunded_date
    from succeeded
    left join requested using (refund_id)

)

select * from final
