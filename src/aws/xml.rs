//! A small element tree built with quick-xml, matched by local name (namespaces ignored).
//! Query API responses are small, so a tree keeps the typed decoders simple.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::error::DecodeError;

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

    /// Text of a child parsed as a number: `None` when the child is absent, an error when its
    /// text is not a `T` (never a default that would pass for a real value).
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, DecodeError> {
        let Some(text) = self.text_of(name) else {
            return Ok(None);
        };
        let expected = std::any::type_name::<T>();
        text.parse().map(Some).map_err(|_| DecodeError::Malformed { element: name.to_string(), text, expected })
    }

    /// [`number`](Self::number) of a child the field cannot do without.
    pub fn required_number<T: std::str::FromStr>(&self, name: &str) -> Result<T, DecodeError> {
        self.number(name)?.ok_or_else(|| DecodeError::Missing { element: name.to_string() })
    }

    /// Text of a child parsed as `true` or `false` in any case (moto writes `True`): `None`
    /// when absent, an error for anything else.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, DecodeError> {
        match self.text_of(name) {
            None => Ok(None),
            Some(t) if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(t) if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(text) => Err(DecodeError::Malformed { element: name.to_string(), text, expected: "bool" }),
        }
    }

    /// The `member` children of a list element named `name` (AWS Query list shape).
    pub fn members(&self, name: &str) -> Vec<&Element> {
        self.child(name).map(|l| l.children.iter().filter(|c| c.name == "member").collect()).unwrap_or_default()
    }

    /// The texts of a list of strings.
    pub fn member_strings(&self, name: &str) -> Vec<String> {
        self.members(name).into_iter().map(|m| m.text.trim().to_string()).collect()
    }

    /// The `item` children of a list element named `name` (EC2 list shape).
    pub fn items(&self, name: &str) -> Vec<&Element> {
        self.child(name).map(|l| l.children.iter().filter(|c| c.name == "item").collect()).unwrap_or_default()
    }

    /// Depth-first search for the first descendant (or self) with this name.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }
}

/// The deepest nesting [`parse`] accepts. ELB answers nest at most about 8 deep; the limit
/// keeps the recursive walks of the tree (search, clone, drop) within any thread's stack
/// whatever a broken or hostile endpoint sends.
pub const MAX_DEPTH: usize = 100;

/// Parses a whole document into its root element. Fails on malformed XML, a document
/// without a root, an unclosed element, or elements nested deeper than [`MAX_DEPTH`].
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
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("elements nested deeper than {MAX_DEPTH}"));
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
        let doc =
            r#"<?xml version="1.0"?><a:Root xmlns:a="urn:x"><B>x &amp; y&#33;</B><C/><L><member>1</member><member>2</member></L></a:Root>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Root");
        assert_eq!(root.string("B"), "x & y!");
        assert!(root.child("C").is_some());
        assert_eq!(root.member_strings("L"), vec!["1", "2"]);
        let ec2 =
            parse("<R><groupSet><item><groupId>sg-1</groupId></item><other/><item><groupId>sg-2</groupId></item></groupSet></R>").unwrap();
        assert_eq!(ec2.items("groupSet").iter().map(|i| i.string("groupId")).collect::<Vec<_>>(), ["sg-1", "sg-2"]);
        assert!(ec2.items("absent").is_empty());
    }

    #[test]
    fn numbers_are_read_or_refused_never_defaulted() {
        let doc = "<E><Port> 443 </Port><Bad>eighty</Bad><Big>70000</Big><Empty/><On>True</On><Off>false</Off><Maybe>yes</Maybe></E>";
        let e = parse(doc).unwrap();
        assert_eq!(e.number::<u16>("Port"), Ok(Some(443)));
        assert_eq!(e.number::<u16>("Absent"), Ok(None));
        assert_eq!(e.number::<u16>("Bad"), Err(DecodeError::Malformed { element: "Bad".into(), text: "eighty".into(), expected: "u16" }));
        assert!(matches!(e.number::<u16>("Big"), Err(DecodeError::Malformed { expected: "u16", .. })), "out of range");
        assert!(matches!(e.number::<i32>("Empty"), Err(DecodeError::Malformed { .. })), "empty is not zero");
        assert_eq!(e.required_number::<u16>("Port"), Ok(443));
        assert_eq!(e.required_number::<u16>("Absent"), Err(DecodeError::Missing { element: "Absent".into() }));
        assert_eq!((e.boolean("On"), e.boolean("Off"), e.boolean("Absent")), (Ok(Some(true)), Ok(Some(false)), Ok(None)));
        assert!(matches!(e.boolean("Maybe"), Err(DecodeError::Malformed { expected: "bool", .. })));
    }

    #[test]
    fn rejects_malformed_documents() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<a>").is_err());
        assert!(parse("").is_err());
        assert!(parse("not xml").is_err());
    }
}
