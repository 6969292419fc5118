{#- Every data check of one model in one dbt test node: fails with one row per failure, naming the check in
    failed_check and the offending value or row in failure. A build runs every test, and each dbt test node costs
    ~10–20 ms of dbt's own work (context, compile, events, a transaction) before its query, which was a third of an
    incremental build; one node per model instead of one per check (143 → 47 tests) keeps every check and its rows.

    Each check is a mapping with one of these kinds, an optional `where` (may say rows_built_this_run) and an
    optional `name`; each kind fails exactly where dbt's own test of that name (or this project's) would:
      - not_null: [columns]            a row where any of them is null (columns_are_not_null)
      - unique: column                 a non-null value on more than one row (dbt's unique)
      - unique_in_table: column        a non-null value of a row `where` selects that is on any other row of the
                                       whole table. With `where` selecting the rows this run appended or rebuilt, it
                                       is dbt's unique on the whole table, at the cost of the new rows: the other rows
                                       were checked unique by the runs that wrote them and are never changed, only
                                       kept or deleted, so any repeat involves a new row (and a full build selects
                                       every row). For ids that are not the model's delete+insert key.
      - unique_combination: [columns]  a combination on more than one row, nulls equal (unique_combination_of_columns)
      - accepted_values: {column, values}  a non-null value outside the list (dbt's accepted_values)
      - relationship: {column, to, field}  a non-null value with no `field` equal to it in `to` (dbt's relationships;
                                       `where` narrows the checked rows, never `to`)
      - expression: SQL boolean        a row where it is false or null (expression_is_true) -#}
{% test rows_pass_checks(model, checks) %}
{%- for check in checks %}
{%- set where = rows_built_this_run_filter(check.where or 'true') %}
{%- if check.not_null is defined %}
select
    '{{ check.name or "not_null" }}' as failed_check,
    'null: ' || array_to_string(list_filter([
        {%- for column in check.not_null %}
        case when {{ column }} is null then '{{ column }}' end{{ "," if not loop.last }}
        {%- endfor %}
    ], lambda name: name is not null), ', ') as failure
from {{ model }}
where ({{ where }})
    and ({% for column in check.not_null %}{{ column }} is null{{ " or " if not loop.last }}{% endfor %})
{%- elif check.unique is defined %}
select
    '{{ check.name or "unique(" ~ check.unique ~ ")" }}' as failed_check,
    cast({{ check.unique }} as varchar) || ' on ' || count(*) || ' rows' as failure
from {{ model }}
where ({{ where }}) and {{ check.unique }} is not null
group by {{ check.unique }}
having count(*) > 1
{%- elif check.unique_in_table is defined %}
select
    '{{ check.name or "unique(" ~ check.unique_in_table ~ ")" }}' as failed_check,
    cast({{ check.unique_in_table }} as varchar) || ' on ' || count(*) || ' rows' as failure
from {{ model }}
where {{ check.unique_in_table }} in (
    select {{ check.unique_in_table }} from {{ model }} where ({{ where }}) and {{ check.unique_in_table }} is not null
)
group by {{ check.unique_in_table }}
having count(*) > 1
{%- elif check.unique_combination is defined %}
select
    '{{ check.name or "unique(" ~ (check.unique_combination | join(", ")) ~ ")" }}' as failed_check,
    concat_ws(', ', {% for column in check.unique_combination %}coalesce(cast({{ column }} as varchar), 'null'){{ ", " if not loop.last }}{% endfor %})
        || ' on ' || count(*) || ' rows' as failure
from {{ model }}
where ({{ where }})
group by {{ check.unique_combination | join(', ') }}
having count(*) > 1
{%- elif check.accepted_values is defined %}
select
    '{{ check.name or "accepted_values(" ~ check.accepted_values.column ~ ")" }}' as failed_check,
    cast({{ check.accepted_values.column }} as varchar) || ' on ' || count(*) || ' rows' as failure
from {{ model }}
where ({{ where }})
    and {{ check.accepted_values.column }} not in (
        {%- for value in check.accepted_values['values'] -%}
        '{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}
        {%- endfor -%}
    )
group by {{ check.accepted_values.column }}
{%- elif check.relationship is defined %}
select
    '{{ check.name or "relationship(" ~ check.relationship.column ~ ")" }}' as failed_check,
    cast(child.{{ check.relationship.column }} as varchar) as failure
from (
    select {{ check.relationship.column }} from {{ model }}
    where ({{ where }}) and {{ check.relationship.column }} is not null
) as child
left join (select {{ check.relationship.field }} as to_field from {{ check.relationship.to }}) as parent
    on child.{{ check.relationship.column }} = parent.to_field
where parent.to_field is null
{%- elif check.expression is defined %}
select
    '{{ check.name or check.expression | replace("'", "''") }}' as failed_check,
    cast(to_json(checked_row) as varchar) as failure
from {{ model }} as checked_row
where ({{ where }}) and not coalesce(({{ check.expression }}), false)
{%- else %}
{{ exceptions.raise_compiler_error("rows_pass_checks: a check of an unknown kind: " ~ check) }}
{%- endif %}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% endtest %}
