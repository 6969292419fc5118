-- The regional mart loses no order and no fen.
select *
from (select coalesce(sum(orders), 0) as orders, coalesce(sum(gmv_fen), 0) as gmv_fen from {{ ref('fct_region_daily') }}) as region
cross join (select count(*) as paid_orders, coalesce(sum(amount_fen), 0) as paid_fen from {{ ref('int_orders_paid') }}) as paid
where region.orders != paid.paid_orders or region.gmv_fen != paid.paid_fen
