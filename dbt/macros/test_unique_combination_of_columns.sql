{#- Fails with the duplicated keys when a combination of columns is not unique (a grain test).
    Null keys are compared as equal, so they cannot hide duplicates. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select
    {{ combination_of_columns | join(', ') }},
    count(*) as rows_with_this_key
from {{ model }}
group by all
having count(*) > 1
{% endtest %}
