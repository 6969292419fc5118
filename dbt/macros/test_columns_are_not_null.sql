{#- Fails with every row where any of `columns` is null, saying which columns were (null_columns). One test per
    model instead of one `not_null` per column: a build runs ~45 of these instead of ~115 not_null tests, and
    each dbt test node costs ~15–20 ms of dbt's own work before its query. Narrow it with the `where:` config. -#}
{% test columns_are_not_null(model, columns) %}
select
    list_filter([
        {%- for column in columns %}
        case when {{ column }} is null then '{{ column }}' end{{ "," if not loop.last }}
        {%- endfor %}
    ], lambda name: name is not null) as null_columns,
    *
from {{ model }}
where {% for column in columns %}{{ column }} is null{{ " or " if not loop.last }}{% endfor %}
{% endtest %}
