fn main() {
    let path = std::env::args().nth(1).unwrap();
    let src = std::fs::read_to_string(&path).unwrap();
    let (file, mut diags) = flowc::syntax::parse(&src);
    diags.extend(flowc::check::check(&src, &file));
    flowc::diagnostic::sort(&mut diags);
    for d in diags { print!("{}", d.render(&path, &src, false)); }
}
