{#- Two-sided p-value of a standard normal z statistic: 2 × (1 − Φ(|z|)), with the Abramowitz & Stegun
    26.2.17 approximation of Φ (error < 7.5e-8; DuckDB has no erf). -#}
{% macro two_sided_p_value(z) -%}
    (2 * (0.3989422804014327 * exp(-({{ z }}) * ({{ z }}) / 2))
        * (1 / (1 + 0.2316419 * abs({{ z }})))
        * (0.319381530 + (1 / (1 + 0.2316419 * abs({{ z }}))) * (-0.356563782
            + (1 / (1 + 0.2316419 * abs({{ z }}))) * (1.781477937
            + (1 / (1 + 0.2316419 * abs({{ z }}))) * (-1.821255978
            + (1 / (1 + 0.2316419 * abs({{ z }}))) * 1.330274429)))))
{%- endmacro %}
