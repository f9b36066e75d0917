# replace_section FILE MARKER SECTION_FILE: replaces the block from `<!-- MARKER -->` to
# `<!-- /MARKER -->` of FILE with the contents of SECTION_FILE (which carries both markers),
# or appends it when FILE has no such block yet.
replace_section() {
  local file="$1" marker="$2" section="$3" next
  next="$(mktemp)"
  if grep -qxF "<!-- $marker -->" "$file"; then
    awk -v start="<!-- $marker -->" -v end="<!-- /$marker -->" -v src="$section" '
      $0 == start { while ((getline line < src) > 0) print line; skip = 1; next }
      $0 == end { skip = 0; next }
      !skip { print }' "$file" > "$next"
  else
    { cat "$file"; echo; cat "$section"; } > "$next"
  fi
  mv "$next" "$file"
}
