{#- Every table model is rebuilt on every build, so the few statements around its query are paid ~40 times a
    build. dbt-duckdb's own table materialization builds into an intermediate table, looks for indexes and
    foreign keys, renames the old table away, renames the new one in and drops the old one: six statements and
    catalog look-ups per model. The project's tables have no indexes, foreign keys or grants, and DuckDB replaces
    a table atomically inside the model's transaction, so one `create or replace table … as` does the same. -#}
{% materialization table, adapter="duckdb", supported_languages=['sql'] %}

  {%- set target_relation = this.incorporate(type='table') -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    create or replace table {{ target_relation }} as (
      {{ compiled_code }}
    )
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do persist_docs(target_relation, model) %}

  -- `COMMIT` happens here
  {{ adapter.commit() }}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
