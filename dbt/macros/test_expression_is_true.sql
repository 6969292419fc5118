{#- Fails with every row where the SQL boolean expression is false or null. For identities and inequalities
    that hold by definition; narrow it with the test's `where:` config. Usable on a model or a column. -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
