{#- The ids a lake table holds more than once among the rows `where` selects, each with its first copy: the
    earliest received_at, then file name and row in the file. Duplicates are rare (a retry racing two sink
    workers; a compacted partition during its grace period), so candidates are found with a 64-bit hash of every
    id (cheap to group) and only their strings compared. The source is named afresh in each query so that DuckDB
    reads just the columns each needs instead of materialising the whole table. -#}
{% macro repeated_ids(relation, id_column, where='true') -%}
    select
        {{ id_column }},
        min({'received_at': received_at, 'filename': filename, 'row': file_row_number}) as first_copy
    from {{ relation }}
    where ({{ where }})
        and hash({{ id_column }}) in (
            select hash({{ id_column }})
            from {{ relation }}
            where ({{ where }})
            group by 1
            having count(*) > 1
        )
    group by {{ id_column }}
    having count(*) > 1
{%- endmacro %}

{#- True for the one copy of each id that staging keeps (`repeated` is the relation of repeated_ids above). -#}
{% macro is_first_copy(source_alias, repeated_alias, id_column) -%}
    ({{ repeated_alias }}.{{ id_column }} is null
        or ({{ source_alias }}.received_at = {{ repeated_alias }}.first_copy.received_at
            and {{ source_alias }}.filename = {{ repeated_alias }}.first_copy.filename
            and {{ source_alias }}.file_row_number = {{ repeated_alias }}.first_copy.row))
{%- endmacro %}
