-- The viral coefficient per shop day: new shoppers acquired through shares made that day per shopper who
-- shared that day (K-factor), with the shares' attributed GMV.

with

referrals as (

    select * from {{ ref('fct_referrals') }}

),

final as (

    select
        shared_date,
        count(*) as shares,
        count(distinct sharer_person_id) as sharers,
        sum(new_shoppers)::bigint as new_shoppers,
        sum(new_shoppers) / count(distinct sharer_person_id) as k_factor,
        sum(attributed_orders)::bigint as attributed_orders,
        sum(attributed_gmv_fen)::bigint as attributed_gmv_fen
    from referrals
    group by shared_date

)

select * from final
