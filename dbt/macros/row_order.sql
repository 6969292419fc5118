{#- Hooks for a model that writes millions of rows: without an order to keep, DuckDB's threads write their row
    groups as they finish instead of putting them back into the order of the input (measured on the 10 M-event
    staging: about a tenth less CPU). A table has no order anyway; models that need one say `order by`. -#}
{% macro any_row_order() -%}
    set preserve_insertion_order = false
{%- endmacro %}

{% macro reset_row_order() -%}
    reset preserve_insertion_order
{%- endmacro %}
