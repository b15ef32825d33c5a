-- A key template rendered as text: each `{{ ref }}` replaced by the text of
-- the value it names in `p_ctx` (strings as they are, anything else as JSON).
-- A ref is `root`, `root.name` or either followed by a JSON pointer
-- (`run.order/id`, `deps.fetch/rows/0`, `event.payload/ref`); the roots a
-- template may use are checked at registration (shared/api/key_template.ts).
-- Null when a ref names nothing: the caller decides what that means.
CREATE OR REPLACE FUNCTION edgeflow._render_template(p_template text, p_ctx jsonb)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO ''
AS $function$
declare
  v_parts text[];
  v_out text;
  v_ref text;
  v_m text[];
  v_path text[];
  v_value jsonb;
  v_i integer := 1;
begin
  if p_template is null or strpos(p_template, '{{') = 0 then
    return p_template;
  end if;
  v_parts := regexp_split_to_array(p_template, '\{\{[^}]*\}\}');
  v_out := v_parts[1];
  for v_ref in
    select btrim(m.g[1]) from regexp_matches(p_template, '\{\{([^}]*)\}\}', 'g')
                              with ordinality as m(g, ord)
     order by m.ord
  loop
    v_m := regexp_match(v_ref, '^([a-z]+)(?:\.([^/]+))?(/.*)?$');
    if v_m is null then
      return null;
    end if;
    v_path := array[v_m[1]];
    if v_m[2] is not null then
      v_path := v_path || v_m[2];
    end if;
    if v_m[3] is not null then
      v_path := v_path || array(
        select replace(replace(s.seg, '~1', '/'), '~0', '~')
          from unnest(string_to_array(substr(v_m[3], 2), '/')) with ordinality as s(seg, ord)
         order by s.ord);
    end if;
    v_value := p_ctx #> v_path;
    if v_value is null then
      return null;
    end if;
    v_i := v_i + 1;
    v_out := v_out || case when jsonb_typeof(v_value) = 'string' then v_value #>> '{}'
                           else v_value::text end
                   || coalesce(v_parts[v_i], '');
  end loop;
  return v_out;
end
$function$;
