-- A/B tests per experiment and variant: exposed shoppers (first "Experiment Viewed"), who paid within
-- var('attribution_days') of exposure, orders and AOV, the conversion rate with its 95% confidence interval,
-- and a two-proportion z-test against the control (the variant named control, else the first by name).

with

exposures as (

    select * from {{ ref('int_experiment_exposures') }}

),

paid_orders as (

    select * from {{ ref('int_orders_paid') }}

),

outcomes as (

    select
        exposures.experiment_id,
        exposures.variant,
        exposures.person_id,
        count(paid_orders.order_id) as orders,
        coalesce(sum(paid_orders.amount_fen), 0) as revenue_fen
    from exposures
    left join paid_orders
        on paid_orders.person_id = exposures.person_id
        and paid_orders.paid_at >= exposures.exposed_at
        and paid_orders.paid_at < exposures.exposed_at + to_days({{ var('attribution_days') }})
    group by all

),

variants as (

    select
        experiment_id,
        variant,
        count(*) as exposed_shoppers,
        count(*) filter (where orders > 0) as converted_shoppers,
        sum(orders)::bigint as orders,
        sum(revenue_fen)::bigint as revenue_fen
    from outcomes
    group by all

),

with_control as (

    select
        *,
        converted_shoppers / exposed_shoppers as conversion_rate,
        first_value(variant) over (
            partition by experiment_id order by variant != 'control', variant
        ) as control_variant
    from variants

),

compared as (

    select
        with_control.*,
        control.exposed_shoppers as control_exposed_shoppers,
        control.conversion_rate as control_conversion_rate,
        (with_control.converted_shoppers + control.converted_shoppers)
            / (with_control.exposed_shoppers + control.exposed_shoppers) as pooled_rate
    from with_control
    inner join with_control as control
        on control.experiment_id = with_control.experiment_id
        and control.variant = with_control.control_variant

),

tested as (

    select
        *,
        case
            -- Rounded to 6 places: more digits are floating-point noise, not evidence.
            when variant != control_variant and pooled_rate > 0 and pooled_rate < 1
                then round((conversion_rate - control_conversion_rate) / sqrt(
                    pooled_rate * (1 - pooled_rate) * (1 / exposed_shoppers + 1 / control_exposed_shoppers)
                ), 6)
        end as z_score
    from compared

),

final as (

    select
        experiment_id,
        variant,
        variant = control_variant as is_control,
        exposed_shoppers,
        converted_shoppers,
        orders,
        revenue_fen,
        {{ fen_to_yuan('revenue_fen') }} as revenue_yuan,
        case when orders > 0 then revenue_fen / orders end as aov_fen,
        conversion_rate,
        greatest(0, conversion_rate - 1.959964 * sqrt(conversion_rate * (1 - conversion_rate) / exposed_shoppers))
            as conversion_ci_low,
        least(1, conversion_rate + 1.959964 * sqrt(conversion_rate * (1 - conversion_rate) / exposed_shoppers))
            as conversion_ci_high,
        conversion_rate - control_conversion_rate as uplift,
        z_score,
        case when z_score is not null then {{ two_sided_p_value('z_score') }} end as p_value,
        coalesce(z_score is not null and {{ two_sided_p_value('z_score') }} < 0.05, false) as is_significant
    from tested

)

select * from final
