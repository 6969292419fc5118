{#- dbt's test filter (the `where` config), with one word added: `rows_built_this_run` stands for the rows of a
    model incremental by key that this run computed (`built_at`). A full build computes every row, so such a test
    checks them all; an incremental build checks only the keys it rebuilt. Only for checks a row passes or fails on
    its own, for the model's delete+insert key (an old row with the key was deleted) and for references to keys
    that are never removed: an untouched row was checked by the run that built it and has not changed since. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = rows_built_this_run_filter(config.get('where') or '') -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- A test filter with `rows_built_this_run` read at run time (a `where` written in YAML is rendered once, at
    parse time, and the warm builder keeps one parse for many runs). -#}
{% macro rows_built_this_run_filter(where) -%}
    {{- return(where | replace('rows_built_this_run', "built_at = timestamptz '" ~ run_started_at ~ "'")) -}}
{%- endmacro %}
