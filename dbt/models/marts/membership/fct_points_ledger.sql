-- The membership points ledger: one row per PointsChanged entry from the order core (earned on payment,
-- spent on a redemption, adjusted by staff), with the balance before and after it.

with

order_book as not materialized (

    select * from {{ ref('stg_order_book__events') }}

),

entries as (

    select
        payload ->> '$.entry_id' as entry_id,
        user_id,
        try_cast(payload ->> '$.delta' as bigint) as points_delta,
        reason,
        payload ->> '$.ref' as reference,
        try_cast(payload ->> '$.balance' as bigint) as balance_after,
        occurred_at,
        occurred_date
    from order_book
    where event_name = 'PointsChanged'

),

final as (

    select
        entry_id,
        user_id,
        points_delta,
        reason,
        reference,
        points_delta > 0 as is_earned,
        balance_after - points_delta as balance_before,
        balance_after,
        occurred_at,
        occurred_date
    from entries

)

select * from final
