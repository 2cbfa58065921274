{#-
  One row per (customer_id, event_id): typed, renamed, the latest updated_at wins.
  Re-sends (exact duplicates) and updates (same keys, later updated_at) collapse to one row.
  Rows with a null key are left out, as the Snowflake MERGE skips them (a null key can never
  match, so keeping them would duplicate them on every rerun): the data-quality gate upstream
  counts them, and the source's warn-level not_null tests report them. PII columns are not selected.
  Cross-database: only dbt's type and cast macros and ANSI SQL, so it runs on duckdb and Snowflake.
-#}
with source as (

    select * from {{ source('lakeops', 'customer_behavior') }}

),

typed as (

    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(customer_id as {{ dbt.type_bigint() }}) as customer_id,
        cast(session_id as {{ dbt.type_string() }}) as session_id,
        lower(trim(cast(event_type as {{ dbt.type_string() }}))) as event_type,
        cast(event_ts as {{ dbt.type_timestamp() }}) as event_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(page as {{ dbt.type_string() }}) as page_path,
        {{ dbt.safe_cast('amount', dbt.type_numeric()) }} as amount,
        upper(cast(currency as {{ dbt.type_string() }})) as currency_code,
        coalesce(
            {{ dbt.safe_cast('event_date', 'date') }},
            cast(cast(event_ts as {{ dbt.type_timestamp() }}) as date)
        ) as event_date
    from source
    where customer_id is not null and event_id is not null

),

ranked as (

    select
        typed.*,
        row_number() over (
            partition by customer_id, event_id
            order by updated_at desc, event_at desc
        ) as version_rank
    from typed

)

select
    {{ dbt.concat([dbt.safe_cast('customer_id', dbt.type_string()), "'|'", 'event_id']) }} as event_key,
    event_id,
    customer_id,
    session_id,
    event_type,
    event_at,
    updated_at,
    page_path,
    amount,
    currency_code,
    event_date
from ranked
where version_rank = 1
