//! A small element tree built with quick-xml, matched by local name (namespaces ignored).
//! ELB responses are small, so a tree keeps the typed decoders in `wire` simple.

use quick_xml::events::Event;
use quick_xml::Reader;

/// One XML element: local name, concatenated text, and child elements in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Follows a path of child names.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        let mut e = self;
        for n in names {
            e = e.child(n)?;
        }
        Some(e)
    }

    /// Trimmed text of a child, if present.
    pub fn text_of(&self, name: &str) -> Option<String> {
        self.child(name).map(|c| c.text.trim().to_string())
    }

    /// Text of a child, or empty.
    pub fn string(&self, name: &str) -> String {
        self.text_of(name).unwrap_or_default()
    }

    /// Text of a child parsed as a number or boolean.
    pub fn parse<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.text_of(name).and_then(|t| t.parse().ok())
    }

    /// The `member` children of a list element named `name` (AWS Query list shape).
    pub fn members(&self, name: &str) -> Vec<&Element> {
        self.child(name).map(|l| l.children.iter().filter(|c| c.name == "member").collect()).unwrap_or_default()
    }

    /// The texts of a list of strings.
    pub fn member_strings(&self, name: &str) -> Vec<String> {
        self.members(name).into_iter().map(|m| m.text.trim().to_string()).collect()
    }

    /// Depth-first search for the first descendant (or self) with this name.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }
}

/// Parses a whole document into its root element. Fails on malformed XML, a document
/// without a root, or an unclosed element.
pub fn parse(doc: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(doc);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|e| format!("malformed XML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(s) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                stack.push(Element { name: local(s.local_name().as_ref()), ..Default::default() });
            }
            Event::Empty(s) => {
                let e = Element { name: local(s.local_name().as_ref()), ..Default::default() };
                close(&mut stack, &mut root, e)?;
            }
            Event::End(_) => {
                let e = stack.pop().ok_or("unbalanced end tag")?;
                close(&mut stack, &mut root, e)?;
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                } else if !t.xml10_content().trim().is_empty() {
                    return Err("text outside the root element".into());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c,
                    None => match &*r.into_inner() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(format!("unknown entity &{other};")),
                    },
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push(ch);
                }
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions and doctypes carry no data.
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("document ended inside an element".into());
    }
    root.ok_or_else(|| "no root element".to_string())
}

fn local(name: &str) -> String {
    name.to_string()
}

fn close(stack: &mut [Element], root: &mut Option<Element>, e: Element) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(e),
        None if root.is_none() => *root = Some(e),
        None => return Err("more than one root element".into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_elements_with_namespaces_and_entities() {
        let doc = r#"<?xml version="1.0"?><a:Root xmlns:a="urn:x"><B>x &amp; y&#33;</B><C/><L><member>1</member><member>2</member></L></a:Root>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Root");
        assert_eq!(root.string("B"), "x & y!");
        assert!(root.child("C").is_some());
        assert_eq!(root.member_strings("L"), vec!["1", "2"]);
    }

    #[test]
    fn rejects_malformed_documents() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<a>").is_err());
        assert!(parse("").is_err());
        assert!(parse("not xml").is_err());
    }
}
