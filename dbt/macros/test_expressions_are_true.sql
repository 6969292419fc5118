{#- Several expression_is_true checks of one model in one test: fails with every row where a check's SQL
    boolean expression is false or null, named in failed_check. Each check is {name, expression, where (optional,
    may say rows_built_this_run)}. One dbt test node instead of one per check: each node costs ~15–20 ms of dbt's
    own work before its query, and a build runs every test. -#}
{% test expressions_are_true(model, checks) %}
{%- for check in checks %}
select '{{ check.name or check.expression | replace("'", "''") }}' as failed_check, *
from {{ model }}
where ({{ rows_built_this_run_filter(check.where or 'true') }})
    and not coalesce(({{ check.expression }}), false)
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% endtest %}
