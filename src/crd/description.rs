//! Doc comments wrap at the source's line width, and schemars keeps those line breaks in the
//! schema's `description`s. `kubectl explain` prints a description as it is, so a break in the
//! middle of a sentence shows up mid-line ("1-100 listeners, one per⏎front-end port"). The CRDs
//! are therefore written with each paragraph on one line: a blank line still separates
//! paragraphs, and a line that starts a list item (`- ` or `* `) keeps its own line.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

/// `text` with the line breaks inside each paragraph replaced by spaces.
pub fn unwrap(text: &str) -> String {
    text.split("\n\n").map(unwrap_paragraph).collect::<Vec<_>>().join("\n\n")
}

fn unwrap_paragraph(paragraph: &str) -> String {
    let mut out = String::with_capacity(paragraph.len());
    for line in paragraph.lines() {
        if out.is_empty() {
            out.push_str(line.trim_end());
        } else if starts_list_item(line) {
            out.push('\n');
            out.push_str(line.trim_end());
        } else {
            out.push(' ');
            out.push_str(line.trim());
        }
    }
    out
}

/// Whether a line begins a list item. Numbered items are not recognised: a wrapped sentence
/// can put a number and a full stop at the start of a line ("at most⏎50. Unset: ...").
pub fn starts_list_item(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("- ") || line.starts_with("* ")
}

/// Unwraps every description of every version's schema of `crd`.
pub fn unwrap_crd(crd: &mut CustomResourceDefinition) {
    for version in &mut crd.spec.versions {
        if let Some(schema) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            unwrap_schema(schema);
        }
    }
}

fn unwrap_schema(schema: &mut JSONSchemaProps) {
    if let Some(description) = schema.description.as_mut() {
        *description = unwrap(description);
    }
    for child in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
        unwrap_schema(child);
    }
    match schema.items.as_mut() {
        Some(JSONSchemaPropsOrArray::Schema(child)) => unwrap_schema(child),
        Some(JSONSchemaPropsOrArray::Schemas(children)) => children.iter_mut().for_each(unwrap_schema),
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(child)) = schema.additional_properties.as_mut() {
        unwrap_schema(child);
    }
    for list in [&mut schema.all_of, &mut schema.any_of, &mut schema.one_of].into_iter().flatten() {
        list.iter_mut().for_each(unwrap_schema);
    }
    if let Some(not) = schema.not.as_mut() {
        unwrap_schema(not);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_lines_within_a_paragraph_only() {
        assert_eq!(unwrap("1-100 listeners, one per\nfront-end port."), "1-100 listeners, one per front-end port.");
        assert_eq!(unwrap("First line\nwraps.\n\nSecond\nparagraph."), "First line wraps.\n\nSecond paragraph.");
        assert_eq!(unwrap("One line."), "One line.");
        assert_eq!(unwrap(""), "");
    }

    #[test]
    fn list_items_keep_their_lines_and_continuations_join_them() {
        let text = "Either:\n- a zone\n  name, or\n- a subnet.\nat most\n50. Unset: all.";
        assert_eq!(unwrap(text), "Either:\n- a zone name, or\n- a subnet. at most 50. Unset: all.");
    }
}
