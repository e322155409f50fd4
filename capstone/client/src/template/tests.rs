//! The evaluator against what Go's text/template (with docker's functions) prints for the same
//! templates and data.

use super::*;
use serde_json::json;

fn render(template: &str, data: &Value) -> String {
    Template::parse(template)
        .and_then(|t| t.render(data))
        .unwrap_or_else(|e| format!("error: {e}"))
}

fn container() -> Value {
    json!({
        "Id": "0123456789abcdef",
        "Name": "/web",
        "State": { "Status": "running", "Running": true, "Pid": 42, "ExitCode": 0 },
        "Config": {
            "Cmd": ["sh", "-c", "echo hi"],
            "Labels": { "b": "2", "a": "1", "com.example.role": "web" },
            "Env": [],
            "Tty": false,
        },
        "Mounts": [
            { "Source": "/srv", "Destination": "/data" },
            { "Source": "/tmp", "Destination": "/tmp" },
        ],
        "Ratio": 0.5,
        "Nothing": null,
    })
}

#[test]
fn fields_and_chains() {
    let c = container();
    assert_eq!(render("{{.State.Status}}", &c), "running");
    assert_eq!(
        render("{{.Name}} {{.State.Pid}} {{.State.Running}}", &c),
        "/web 42 true"
    );
    assert_eq!(render("{{.Missing}}", &c), "<no value>");
    assert_eq!(render("{{.Missing.Deeper}}", &c), "<no value>");
    assert_eq!(render("{{.Config.Cmd}}", &c), "[sh -c echo hi]");
    assert_eq!(
        render("{{.Config.Labels}}", &c),
        "map[a:1 b:2 com.example.role:web]"
    );
    assert_eq!(render("{{.Config.Env}}", &c), "[]");
    assert_eq!(render("{{.Ratio}}", &c), "0.5");
    assert_eq!(render("{{$.Name}}", &c), "/web");
    assert!(
        render("{{.Name.Deeper}}", &c).starts_with("error: template: can't evaluate field Deeper")
    );
}

#[test]
fn json_index_join_case_and_printf() {
    let c = container();
    assert_eq!(
        render("{{json .Config.Cmd}}", &c),
        r#"["sh","-c","echo hi"]"#
    );
    assert_eq!(
        render("{{json .Config.Labels}}", &c),
        r#"{"a":"1","b":"2","com.example.role":"web"}"#
    );
    assert_eq!(render("{{json .State.Status}}", &c), r#""running""#);
    assert_eq!(
        render(r#"{{index .Config.Labels "com.example.role"}}"#, &c),
        "web"
    );
    assert_eq!(render(r#"{{index .Config.Cmd 2}}"#, &c), "echo hi");
    // A missing key: the zero value of docker's string maps.
    assert_eq!(render(r#"{{index .Config.Labels "nope"}}|"#, &c), "|");
    assert_eq!(render(r#"{{join .Config.Cmd ","}}"#, &c), "sh,-c,echo hi");
    assert_eq!(
        render("{{upper .State.Status}} {{.Name | lower}}", &c),
        "RUNNING /web"
    );
    assert_eq!(render(r#"{{title "hello world"}}"#, &c), "Hello World");
    assert_eq!(
        render(
            r#"{{printf "%-8s|%5d|%.2f|%q" .State.Status .State.Pid .Ratio .Name}}"#,
            &c
        ),
        r#"running |   42|0.50|"/web""#
    );
    assert_eq!(
        render(r#"{{printf "%s" .State.Status | upper}}"#, &c),
        "RUNNING"
    );
    assert_eq!(render(r#"{{split "a:b:c" ":"}}"#, &c), "[a b c]");
    assert_eq!(
        render(r#"{{len .Mounts}} {{truncate .Id 4}}"#, &c),
        "2 0123"
    );
    assert_eq!(render(r#"{{pad "x" 1 2}}|"#, &c), " x  |");
}

#[test]
fn control_structures_and_variables() {
    let c = container();
    assert_eq!(
        render("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", &c),
        "/srv:/data /tmp:/tmp "
    );
    assert_eq!(
        render(
            "{{range $i, $m := .Mounts}}{{$i}}={{$m.Source}};{{end}}",
            &c
        ),
        "0=/srv;1=/tmp;"
    );
    assert_eq!(
        render(
            "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}",
            &c
        ),
        "a=1,b=2,com.example.role=web,"
    );
    assert_eq!(
        render("{{range .Config.Env}}x{{else}}empty{{end}}", &c),
        "empty"
    );
    assert_eq!(
        render("{{if .State.Running}}up{{else}}down{{end}}", &c),
        "up"
    );
    assert_eq!(
        render(
            "{{if .Nothing}}a{{else if eq .State.Status \"running\"}}b{{else}}c{{end}}",
            &c
        ),
        "b"
    );
    assert_eq!(render("{{with .State}}{{.Status}}{{end}}", &c), "running");
    assert_eq!(render("{{$s := .State.Status}}{{$s}}!", &c), "running!");
    assert_eq!(
        render("{{if and .State.Running (gt .State.Pid 1)}}ok{{end}}", &c),
        "ok"
    );
    assert_eq!(render("{{if not .Config.Tty}}no tty{{end}}", &c), "no tty");
    assert_eq!(render("{{range .Mounts}}{{$.Name}}{{end}}", &c), "/web/web");
    assert_eq!(render("{{(index .Mounts 1).Source}}", &c), "/tmp");
}

#[test]
fn strict_templates_refuse_missing_keys() {
    let c = container();
    let strict = |t: &str| Template::parse(t).unwrap().strict().render(&c);
    assert_eq!(strict("{{.State.Status}}").unwrap(), "running");
    let error = strict("{{.Missing}}").unwrap_err().to_string();
    assert_eq!(error, "template: map has no entry for key \"Missing\"");
}

#[test]
fn trimming_comments_and_errors() {
    let c = container();
    assert_eq!(render("a  {{- .Name -}}  b", &c), "a/webb");
    assert_eq!(render("{{/* a comment */}}x", &c), "x");
    assert_eq!(render("{{\"}}\"}}", &c), "}}");
    assert!(render("{{.Name", &c).starts_with("error: template: unclosed action"));
    assert!(render("{{if .Name}}x", &c).contains("has no {{end}}"));
    assert!(render("{{nope .Name}}", &c).contains("function \"nope\" not defined"));
    assert!(render("{{template \"x\"}}", &c).contains("not supported"));
}

#[test]
fn tables_align_as_dockers_tabwriter() {
    let format = ListFormat::parse(r"table {{.ID}}\t{{.Name}}\t{{.Status}}").unwrap();
    let rows = [
        json!({ "ID": "abc", "Name": "web", "Status": "Up 2 seconds" }),
        json!({ "ID": "0123456789ab", "Name": "a-longer-name", "Status": "Exited (0)" }),
    ];
    let headers = json!({ "ID": "CONTAINER ID", "Name": "NAME", "Status": "STATUS" });
    assert_eq!(
        format.render(&rows, &headers).unwrap(),
        "CONTAINER ID   NAME            STATUS\n\
         abc            web             Up 2 seconds\n\
         0123456789ab   a-longer-name   Exited (0)\n"
    );
    let plain = ListFormat::parse(r"{{.ID}}\t{{.Name}}").unwrap();
    assert_eq!(plain.render(&rows[..1], &headers).unwrap(), "abc\tweb\n");
    // Header functions hand the title back.
    let upper = ListFormat::parse(r"table {{lower .Name}}").unwrap();
    assert_eq!(upper.render(&rows[..1], &headers).unwrap(), "NAME\nweb\n");
    assert_eq!(align("a\tb\nlonger\n"), "a         b\nlonger\n");
}
