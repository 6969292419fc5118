{#- The shop's calendar date of a UTC instant: daily marts are cut at midnight in var('shop_timezone'). -#}
{% macro shop_date(instant) -%}
    cast(timezone('{{ var("shop_timezone") }}', {{ instant }}) as date)
{%- endmacro %}
