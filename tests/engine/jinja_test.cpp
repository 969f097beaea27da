// Focused tests of the Jinja language as the interpreter implements it. Each
// expected string is what Jinja2 3.1 renders for the same template and
// context in the environment of ../shared/testdata/templates/
// render_expected.py (sandboxed, trim_blocks, lstrip_blocks, loop controls,
// raise_exception, strftime_now and the json.dumps-based tojson); each
// expect_error is a template Jinja2 rejects or raises on.
#include <gtest/gtest.h>

#include <string>

#include "engine/jinja/interpreter.h"
#include "engine/jinja/json.h"
#include "engine/jinja/parser.h"

namespace agentd::engine::jinja {
namespace {

constexpr const char* kContext = R"({"x": [1, 2, 3], "d": {"a": 1, "b": [1, "x"]}, "s": "Ünï",
  "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"},
           {"role": "assistant", "content": "yo"}]})";

StatusOr<std::string> render(const std::string& source) {
  AGENTD_ASSIGN_OR_RETURN(Body body, parse(source));
  AGENTD_ASSIGN_OR_RETURN(Value context, from_json(boost::json::parse(kContext)));
  RenderOptions options;
  options.now = 1721995200;  // 26 Jul 2024
  Interpreter interpreter(context.as_object(), options);
  return interpreter.render(body);
}

void expect_render(const std::string& source, const std::string& expected) {
  auto out = render(source);
  ASSERT_TRUE(out.is_ok()) << source << "\n" << out.status().to_string();
  EXPECT_EQ(*out, expected) << source;
}

void expect_error(const std::string& source) {
  auto out = render(source);
  EXPECT_FALSE(out.is_ok()) << source << "\nrendered: " << (out.is_ok() ? *out : "");
  if (!out.is_ok()) {
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument) << source;
  }
}

TEST(Jinja, WhitespaceControl) {
  expect_render(R"j(  {% if true %}
    indented
  {% endif %}
end)j", R"j(    indented
end)j");
  expect_render(R"j({%- if true %}   x  {% endif -%}   y)j", R"j(   x  y)j");
  expect_render(R"j(a  {#- c -#}  b)j", R"j(ab)j");
  expect_render(R"j({{ 'a' }}
{{ 'b' }}
{% for i in x %}
{{ i }}
{% endfor %})j", R"j(a
b
1
2
3
)j");
  expect_render(R"j(x {%+ if true %} y {% endif +%}
z)j", R"j(x  y 
z)j");
  expect_render(R"j({# comment #}
text
   {#- c2 #}
more)j", R"j(textmore)j");
  expect_render(R"j({{ 1 }}   
{{- 2 -}}   
   {{ 3 }})j", R"j(123)j");
  expect_render(R"j(line1
{%- for i in x %}
 - {{ i }}
{%- endfor %}
)j", R"j(line1 - 1 - 2 - 3)j");
  expect_render(R"j(trailing newline dropped once

)j", R"j(trailing newline dropped once
)j");
  expect_render(R"j(	{% if true %}tab{% endif %})j", R"j(tab)j");
  expect_render(R"j({% raw %}{{ not parsed }}{% endraw %})j", R"j({{ not parsed }})j");
  expect_render(R"j(a  {%- raw -%}  {{ x }}  {%- endraw -%}  b)j", R"j(a{{ x }}b)j");
}

TEST(Jinja, Loops) {
  expect_render(R"j({% for i in x if i > 1 %}{{ loop.index }}/{{ loop.length }}{{ loop.first }}{{ loop.last }}{{ loop.cycle('a','b') }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.index0 }};{% endfor %})j", R"j(1/2TrueFalsea210;2/2FalseTrueb101;)j");
  expect_render(R"j({% for k, v in d.items() %}{{ k }}={{ v }};{% else %}none{% endfor %}{% for i in [] %}{% else %}E{% endfor %})j", R"j(a=1;b=[1, 'x'];E)j");
  expect_render(R"j({% for i in x %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% if i == 3 %}{% break %}{% endif %}{% endfor %})j", R"j(13)j");
  expect_render(R"j({% for a in [1,2] %}{% for b in [3,4] %}{{ loop.index }}{{ a }}{{ b }},{% endfor %}{{ loop.index }};{% endfor %})j", R"j(113,214,1;123,224,2;)j");
  expect_render(R"j({% for m in msgs %}{{ loop.nextitem.role if loop.nextitem }}/{{ loop.previtem.role if loop.previtem is defined }};{% endfor %})j", R"j(user/;assistant/system;/user;)j");
  expect_render(R"j({% for c in s %}[{{ c }}]{% endfor %}{% for k in d %}{{ k }}{% endfor %}{% for i in undefined_thing %}X{% endfor %})j", R"j([Ü][n][ï]ab)j");
  expect_render(R"j({% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %})j", R"j(37)j");
  expect_error(R"j({% for i in none %}{% endfor %})j");  // TypeError: 'NoneType' object is not iterable
}

TEST(Jinja, Scoping) {
  expect_render(R"j({% set y = 0 %}{% for i in x %}{{ y }}{% set y = i %}{{ y }}{% endfor %}|{{ y }})j", R"j(010203|0)j");
  expect_render(R"j({% if true %}{% set z = 5 %}{% endif %}{{ z }})j", R"j(5)j");
  expect_render(R"j({% set ns = namespace(a=1, found=false) %}{% for i in x %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}{{ ns.found }})j", R"j(7False)j");
  expect_render(R"j({% with q = 5 %}{{ q }}{% endwith %}[{{ q }}])j", R"j(5[])j");
  expect_render(R"j({% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = (1, 2) %}{{ t }})j", R"j(12(1, 2))j");
  expect_render(R"j({% set x2 %}captured {{ 1 + 1 }}{% endset %}[{{ x2 }}])j", R"j([captured 2])j");
  expect_render(R"j({% set msgs = msgs[1:] %}{{ msgs|length }})j", R"j(2)j");
  expect_error(R"j({% set q = 1 %}{% set q.attr = 2 %})j");  // TemplateRuntimeError: cannot assign attribute on non-namespace object
}

TEST(Jinja, Macros) {
  expect_render(R"j({% macro m(a, b=2) %}{{ a }}{{ b }}{{ varargs }}{{ kwargs }}{{ y }}{% endmacro %}{% set y = 7 %}{{ m(1) }}|{{ m(1,2,3,k=4) }}|{{ m(b=5, a=6) }})j", R"j(12(){}7|12(3,){'k': 4}7|65(){}7)j");
  expect_render(R"j({% set a = 'x' %}{% macro m() %}{{ a }}{% endmacro %}{% set a = 'y' %}{{ m() }})j", R"j(y)j");
  expect_render(R"j({% for i in range(3) %}{% macro inner() %}{{ i }}{% endmacro %}{{ inner() }}{% endfor %})j", R"j(012)j");
  expect_render(R"j({% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }})j", R"j(54321)j");
  expect_render(R"j({% macro m(x) -%}
  [{{ x }}]
{%- endmacro %}
{{ m(1) }}
{{ m(2) | trim }})j", R"j([1]
[2])j");
  expect_render(R"j({% macro m() %}{{ loop_var }}{% endmacro %}{% for loop_var in x %}{{ m() }}{% endfor %})j", R"j()j");
}

TEST(Jinja, Operators) {
  expect_render(R"j({{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 1 + 1.0 }} {{ 10 / 5 }} {{ 0.1 + 0.2 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }})j", R"j(3.5 3 -4 2 1024 2.0 2.0 0.30000000000000004 3.0 0.5)j");
  expect_render(R"j({{ 1e16 }} {{ 1e15 }} {{ 123456789012345678.0 }} {{ 1e-5 }} {{ 0.0001 }} {{ -0.0 }} {{ 1/3 }} {{ 2.0**0.5 }} {{ 1e300 * 1e10 }})j", R"j(1e+16 1000000000000000.0 1.2345678901234568e+17 1e-05 0.0001 -0.0 0.3333333333333333 1.4142135623730951 inf)j");
  expect_render(R"j({{ true == 1 }}{{ [1] == [1.0] }}{{ "a" < "b" }}{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ (1,2) == [1,2] }}{{ {'a': 1} == {'a': 1.0} }})j", R"j(TrueTrueTrueTrueFalseFalseTrue)j");
  expect_render(R"j({{ 'a' ~ 1 ~ none ~ true ~ undefined_thing }}{{ 'x' if false }}|{{ 'x' if false else 'y' }}{{ 1 if 0 else 2 if 0 else 3 }})j", R"j(a1NoneTrue|y3)j");
  expect_render(R"j({{ not true and false }}{{ not (true and false) }}{{ 0 or '' or 'z' }}{{ 1 and 2 }}{{ [] or none }})j", R"j(FalseTruez2None)j");
  expect_render(R"j({{ 'a' in 'abc' }}{{ 1 in x }}{{ 'a' in d }}{{ 'z' not in d }}{{ not 1 in x }}{{ 'q' in undefined_thing }})j", R"j(TrueTrueTrueTrueFalseFalse)j");
  expect_render(R"j({{ -1 }}{{ - 2 + 3 }}{{ -1|abs }}{{ 2 ** 3 ** 2 }}{{ 10 - 2 - 3 }}{{ 2 * 3 + 1 }}{{ (2 + 3) * 2 }}{{ "a" * 3 }}{{ [1] * 3 }}{{ [1, 2] + [3] }}{{ (1,) + (2,) }})j", R"j(-111645710aaa[1, 1, 1][1, 2, 3](1, 2))j");
  expect_render(R"j({{ "%05.1f|%-4s|%x|%%"|format(3.14159, 'ab', 255) }}{{ "%s" % 'x' }}{{ "%d-%s" % (1, 'a') }})j", R"j(003.1|ab  |ff|%x1-a)j");
  expect_error(R"j({{ 'a' + 1 }})j");  // TypeError: can only concatenate str (not "int") to str
  expect_error(R"j({{ 1 / 0 }})j");  // ZeroDivisionError: division by zero
  expect_error(R"j({{ 'a' < 1 }})j");  // TypeError: '<' not supported between instances of 'str' and 'int'
}

TEST(Jinja, Literals) {
  expect_render(R"j({{ x }}{{ d }}{{ (1,2) }}{{ (1,) }}{{ () }}{{ "it's" }}{{ ["it's", 'a"b', "a\nb", none, true, 1.5, 1e20] }})j", R"j([1, 2, 3]{'a': 1, 'b': [1, 'x']}(1, 2)(1,)()it's["it's", 'a"b', 'a\nb', None, True, 1.5, 1e+20])j");
  expect_render(R"j({{ "a\\nb" }}|{{ 'it\'s' }}|{{ "tab\there" }}|{{ '\x41\101\u00e9' }}|{{ 'x' 'y' }}|{{ '\d' }})j", R"j(a\nb|it's|tab	here|AAé|xy|\d)j");
  expect_render(R"j({{ 1_000 }}{{ 1.5e3 }}{{ 1e3 }}{{ x.0 }}{{ True }}{{ None }}{{ {'a': {'b': 1}} }})j", R"j(10001500.01000.01TrueNone{'a': {'b': 1}})j");
}

TEST(Jinja, Subscripts) {
  expect_render(R"j({{ s|length }}{{ s[1:] }}{{ s[-1] }}{{ s[::-1] }}{{ s[5:1:-2] }}{{ 'abc'[5] }}|{{ x[10] }}|)j", R"j(3nïïïnÜï||)j");
  expect_render(R"j({{ [1,2,3][1:] }}{{ [1,2,3][-2:] }}{{ [1,2,3][:-1] }}{{ (1,2,3)[::2] }}{{ x[::-1] }})j", R"j([2, 3][2, 3][1, 2](1, 3)[3, 2, 1])j");
  expect_render(R"j({{ d.get('a') }}{{ d.get('zz', 'dflt') }}{{ d.get('zz') }}{{ d.keys()|list }}{{ d.values()|list }}{{ d['b'][1] }}{{ d.b.1 }}{{ d.items()|list }})j", R"j(1dfltNone['a', 'b'][1, [1, 'x']]xx[('a', 1), ('b', [1, 'x'])])j");
  expect_render(R"j({{ d.zz }}|{{ d.zz is defined }}|{{ none.x is defined }})j", R"j(|False|False)j");
  expect_error(R"j({{ d.zz.yy }})j");  // UndefinedError: 'dict object' has no attribute 'zz'
  expect_error(R"j({{ nope.x }})j");  // UndefinedError: 'nope' is undefined
  expect_render(R"j({% set l = [] %}{{ l.append }}|{{ d.__class__ }}|)j", R"j(||)j");
  expect_error(R"j({{ x.append(4) }})j");  // SecurityError: access to attribute 'append' of 'list' object is unsafe.
}

TEST(Jinja, Filters) {
  expect_render(R"j({{ x|join(', ') }} {{ x|map('string')|join }} {{ [{'a':1},{'a':2}]|map(attribute='a')|list }} {{ x|select('odd')|list }} {{ x|sum }} {{ x|max }} {{ x|min }})j", R"j(1, 2, 3 123 [1, 2] [1, 3] 6 3 1)j");
  expect_render(R"j({{ msgs|selectattr('role', 'equalto', 'user')|list|length }}{{ msgs|rejectattr('role', 'equalto', 'user')|map(attribute='content')|join('|') }}{{ none|selectattr('a')|list }})j", R"j(1S|yo[])j");
  expect_render(R"j({{ msgs|map(attribute='role')|unique|list }}{{ msgs|selectattr('missing')|list }}{{ msgs|selectattr('role', 'in', ['system'])|list }})j", R"j(['system', 'user', 'assistant'][][{'role': 'system', 'content': 'S'}])j");
  expect_render(R"j({{ msgs|map(attribute='content')|map('upper')|list }}{{ x|map('string')|map('int')|list }}{{ x|select('>', 1)|list }}{{ x|reject('equalto', 2)|list }}{{ msgs|map(attribute='nope', default='-')|list }})j", R"j(['S', 'HI', 'YO'][1, 2, 3][2, 3][1, 3]['-', '-', '-'])j");
  expect_render(R"j({{ "  a b  "|trim }}|{{ "xxaxx"|trim('x') }}|{{ 'hello world'|title }}|{{ 'hELLO'|capitalize }}|{{ 'AbC'|lower }}{{ 'AbC'|upper }})j", R"j(a b|a|Hello World|Hello|abcABC)j");
  expect_render(R"j({{ 'line1\nline2'|indent(4) }}|{{ 'line1\nline2\n'|indent(2, true) }}|{{ 'a\n\nb'|indent }}|{{ 'a\n\nb'|indent(blank=true) }}|{{ 'a\nb'|indent('> ') }})j", R"j(line1
    line2|  line1
  line2
|a

    b|a
    
    b|a
> b)j");
  expect_render(R"j({{ none|default('x') }}{{ ''|default('y', true) }}{{ undefined_var|default('z') }}{{ undefined_var|d }})j", R"j(Noneyz)j");
  expect_render(R"j({{ 3.7|int }}{{ '42'|int }}{{ 'x'|int }}{{ '3.5'|int }}{{ '3.5'|float }}{{ 'x'|float }}{{ 2.567|round(2) }}{{ 2.5|round }}{{ 3.5|round }}{{ 2.675|round(2) }}{{ 1.5|round(method='floor') }}{{ 1.2|round(method='ceil') }}{{ -3|abs }})j", R"j(342033.50.02.572.04.02.671.02.03)j");
  expect_render(R"j({{ {'b':1,'a':2}|dictsort }}{{ {'b':1,'a':2}|dictsort(by='value') }}{{ [3,1,2]|sort }}{{ [3,1,2]|sort(reverse=true) }}{{ ['B','a','C']|sort }}{{ ['B','a','C']|sort(case_sensitive=true) }}{{ msgs|sort(attribute='role')|map(attribute='role')|list }})j", R"j([('a', 2), ('b', 1)][('b', 1), ('a', 2)][1, 2, 3][3, 2, 1]['a', 'B', 'C']['B', 'C', 'a']['assistant', 'system', 'user'])j");
  expect_render(R"j({{ 'abc'|reverse }}{{ [1,2]|reverse|list }}{{ [1,1,2]|unique|list }}{{ ['b','A','a']|unique|list }})j", R"j(cba[2, 1][1, 2]['b', 'A'])j");
  expect_render(R"j({{ x|first }}{{ x|last }}{{ 'ab'|list }}{{ d|length }}{{ d|count }}{{ undefined_var|length }}{{ d|list }}{{ d|first }}{{ []|first }})j", R"j(13['a', 'b']220['a', 'b']a)j");
  expect_render(R"j({{ x|batch(2)|list }}{{ 'hello world foo'|wordcount }}{{ 'abc'|center(9) }}|{{ 'a long sentence here to cut'|truncate(10) }}|{{ 'a<b>&"'|escape }}|{{ [1,'a']|string }}|{{ 'x'|safe }})j", R"j([[1, 2], [3]]3   abc   |a long...|a&lt;b&gt;&amp;&#34;|[1, 'a']|x)j");
  expect_render(R"j({{ x|sum(start=10) }}{{ [[1],[2]]|sum(start=[]) }}{{ [0.5, 1]|sum }}{{ msgs|map(attribute='content')|join(attribute='x') }})j", R"j(16[1, 2]1.5)j");
  expect_render(R"j({{ ['b', 'A']|max }}{{ ['b', 'A']|max(case_sensitive=true) }}{{ msgs|max(attribute='role') }}{{ []|max }})j", R"j(bb{'role': 'user', 'content': 'hi'})j");
  expect_render(R"j({{ x|replace(1, 2) }}{{ 'aaa'|replace('a', 'b', 2) }}{{ 'é'|upper }}{{ 'ÉÀ'|lower }}{{ 'straße'|upper }})j", R"j([2, 2, 3]bbaÉéàSTRASSE)j");
  expect_render(R"j({{ d|items|list }}{{ undefined_var|items|list }}{{ x|pprint }})j", R"j([('a', 1), ('b', [1, 'x'])][][1, 2, 3])j");
  expect_error(R"j({{ 5|length }})j");  // TypeError: object of type 'int' has no len()
}

TEST(Jinja, ToJson) {
  expect_render(R"j({{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ d|tojson(sort_keys=true, separators=(',', ':')) }})j", R"j({"a": 1, "b": [1, "x"]}|{
  "a": 1,
  "b": [
    1,
    "x"
  ]
}|{"a":1,"b":[1,"x"]})j");
  expect_render(R"j({{ s|tojson }}{{ 'é"\n\t\u0001\\/'|tojson }}{{ [1.5, 2, none, true, 1e20, 1e-7]|tojson }}{{ {'a': [1, {'b': 2}], 'c': {}, 'e': []}|tojson(indent=4) }})j", R"j("Ünï""é\"\n\t\u0001\\/"[1.5, 2, null, true, 1e+20, 1e-07]{
    "a": [
        1,
        {
            "b": 2
        }
    ],
    "c": {},
    "e": []
})j");
  expect_render(R"j({{ 'é😀'|tojson(ensure_ascii=true) }}{{ {1: 'a', none: 'b'}|tojson }}{{ x|tojson(indent=0) }})j", R"j("\u00e9\ud83d\ude00"{"1": "a", "null": "b"}[
1,
2,
3
])j");
  expect_error(R"j({{ undefined_var|tojson }})j");  // TypeError: Object of type Undefined is not JSON serializable
}

TEST(Jinja, Tests) {
  expect_render(R"j({{ x is iterable }}{{ d is mapping }}{{ s is string }}{{ 1 is number }}{{ 1.0 is integer }}{{ none is none }}{{ 4 is divisibleby 2 }}{{ 3 is odd }}{{ 4 is even }}{{ x is sequence }}{{ 'a' is lower }}{{ 'A' is upper }})j", R"j(TrueTrueTrueTrueFalseTrueTrueTrueTrueTrueTrueTrue)j");
  expect_render(R"j({{ none is sameas none }}{{ true is sameas true }}{{ 1 is eq 1 }}{{ 2 is gt 1 }}{{ 2 is ge 3 }}{{ 1 is lt 2 }}{{ 1 is le 1 }}{{ 1 is ne 2 }}{{ 2 is in x }}{{ m is callable }}{{ x.count is callable }})j", R"j(TrueTrueTrueTrueFalseTrueTrueTrueTrueTrueTrue)j");
  expect_render(R"j({{ undefined_var is undefined }}{{ d is not defined }}{{ true is boolean }}{{ 1 is boolean }}{{ true is true }}{{ 0 is false }}{{ 1.5 is float }}{{ 'upper' is filter }}{{ 'odd' is test }}{{ undefined_var is iterable }})j", R"j(TrueFalseTrueFalseTrueFalseTrueTrueTrueTrue)j");
}

TEST(Jinja, StringMethods) {
  expect_render(R"j({{ 'Hello World'.lower() }}{{ 'hello'.upper() }}{{ 'a-b-c'.split('-', 1) }}{{ 'a b c'.rsplit(' ', 1) }}{{ '  x '.strip() }}{{ 'xxhixx'.strip('x') }}{{ '  x '.lstrip() }}|{{ '  x '.rstrip() }}|{{ 'ab'.replace('a', 'c') }})j", R"j(hello worldHELLO['a', 'b-c']['a b', 'c']xhix |  x|cb)j");
  expect_render(R"j({{ 'abc'.find('c') }}{{ 'abc'.find('z') }}{{ 'abc'.count('b') }}{{ 'hello world'.title() }}{{ ','.join(['a','b']) }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith(('x', 'a')) }})j", R"j(2-11Hello Worlda,bTrueTrue)j");
  expect_render(R"j({{ 'a,b,,c'.split(',') }}{{ 'a  b'.split(' ') }}{{ ''.split() }}{{ ''.split(',') }}{{ ' a b '.split(None, 1) }}{{ 'ab\ncd\r\ne'.splitlines() }})j", R"j(['a', 'b', '', 'c']['a', '', 'b'][]['']['a', 'b ']['ab', 'cd', 'e'])j");
  expect_render(R"j({{ "Hi {name}".format(name="Bob") }}{{ "{0}{1}{0}".format('a', 'b') }}{{ "{}-{}".format(1, 'b') }}{{ '12'.isdigit() }}{{ 'ab'.isalpha() }}{{ ' '.isspace() }}{{ 'Ab'.isupper() }}{{ x.index(2) }}{{ x.count(1) }})j", R"j(Hi Bobaba1-bTrueTrueTrueFalse11)j");
  expect_render(R"j({% set content = 'a</think>b</think>c' %}{{ content.split('</think>')[-1] }}{{ content.split('</think>')[0].strip() }})j", R"j(ca)j");
}

TEST(Jinja, Builtins) {
  expect_render(R"j({{ range(5)|list }}{{ range(1, 10, 3)|list }}{{ range(5, 0, -2)|list }}{{ range(0)|list }})j", R"j([0, 1, 2, 3, 4][1, 4, 7][5, 3, 1][])j");
  expect_render(R"j({{ dict(a=1, b=2) }}{{ namespace(a=1).a }}{{ strftime_now('%d %b %Y') }})j", R"j({'a': 1, 'b': 2}126 Jul 2024)j");
  expect_error(R"j({{ raise_exception('boom') }})j");  // TemplateError: boom
  expect_error(R"j({{ range(1, 2, 0) }}
)j");  // ValueError: range() arg 3 must not be zero
}

TEST(Jinja, RuntimeErrorsNameTheirPosition) {
  auto out = render("line one\n{{ 1 }} {{ d.zz.yy }}");
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("line 2, column"), std::string::npos) << out.status().message();
  EXPECT_NE(out.status().message().find("'dict object' has no attribute 'zz'"), std::string::npos)
      << out.status().message();
  // raise_exception keeps the template's own message.
  out = render("{% if true %}{{ raise_exception('Only user and assistant roles') }}{% endif %}");
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().message(), "Only user and assistant roles");
}

}  // namespace
}  // namespace agentd::engine::jinja
