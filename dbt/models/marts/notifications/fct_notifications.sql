-- Order subscribe messages (订阅消息), one row per send attempt from the order core's SubscribeMessageSent:
-- sent, out of the shopper's quota (errcode 43101) or failed.

with

order_book as not materialized (

    select * from {{ ref('stg_order_book__events') }}
    where event_name = 'SubscribeMessageSent'

),

final as (

    select
        event_id as attempt_id,
        payload ->> '$.notification_id' as notification_id,
        order_id,
        user_id,
        payload ->> '$.kind' as kind,
        payload ->> '$.template_id' as template_id,
        payload ->> '$.status' as status,
        try_cast(payload ->> '$.errcode' as integer) as errcode,
        payload ->> '$.status' = 'sent' as is_sent,
        occurred_at as attempted_at,
        occurred_date as attempted_date
    from order_book

)

select * from final
