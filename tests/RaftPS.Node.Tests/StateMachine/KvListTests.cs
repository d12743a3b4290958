using RaftPS.Node.StateMachine;
using static RaftPS.Node.Tests.StateMachine.Kv;

namespace RaftPS.Node.Tests.StateMachine;

public class KvListTests
{
    private static readonly string[] Keys =
    [
        "app/a/x1", "app/a/x2", "app/b/x1", "app/b/y1", "app/bb/x12", "app/", "apple", "b", "B", "é", "a\uffff", "a\uffff\uffff",
        "z/1", "z/10", "z/2", "app*lit",
    ];

    private static KvStateMachine Store()
    {
        var sm = new KvStateMachine();
        ulong seq = 1;
        foreach (var k in Keys)
            sm.Next(Put(1, seq++, k, "v:" + k));
        return sm;
    }

    [Theory]
    // prefixes
    [InlineData("app/", 0, "app/|app/a/x1|app/a/x2|app/b/x1|app/b/y1|app/bb/x12")]
    [InlineData("app/b", 0, "app/b/x1|app/b/y1|app/bb/x12")]
    [InlineData("app/b/", 0, "app/b/x1|app/b/y1")]
    [InlineData("app", 0, "app*lit|app/|app/a/x1|app/a/x2|app/b/x1|app/b/y1|app/bb/x12|apple")]
    [InlineData("apple", 0, "apple")]
    [InlineData("applesauce", 0, "")]
    [InlineData("zz", 0, "")]         // after the last key
    [InlineData("0", 0, "")]          // before the first key
    [InlineData("a\uffff", 0, "a\uffff|a\uffff\uffff")]
    [InlineData("z/", 0, "z/1|z/10|z/2")] // ordinal, not numeric
    [InlineData("", 0, "B|app*lit|app/|app/a/x1|app/a/x2|app/b/x1|app/b/y1|app/bb/x12|apple|a\uffff|a\uffff\uffff|b|z/1|z/10|z/2|é")]
    // limits
    [InlineData("app/", 2, "app/|app/a/x1")]
    [InlineData("app/", 6, "app/|app/a/x1|app/a/x2|app/b/x1|app/b/y1|app/bb/x12")]
    [InlineData("app/", 100, "app/|app/a/x1|app/a/x2|app/b/x1|app/b/y1|app/bb/x12")]
    [InlineData("", 1, "B")]
    // wildcards: whole-key match
    [InlineData("app/*/x?", 0, "app/a/x1|app/a/x2|app/b/x1")]
    [InlineData("app/*/x*", 0, "app/a/x1|app/a/x2|app/b/x1|app/bb/x12")]
    [InlineData("app/?/*", 0, "app/a/x1|app/a/x2|app/b/x1|app/b/y1")]
    [InlineData("app/*", 0, "app/|app/a/x1|app/a/x2|app/b/x1|app/b/y1|app/bb/x12")]
    [InlineData("*1", 0, "app/a/x1|app/b/x1|app/b/y1|z/1")]
    [InlineData("?", 0, "B|b|é")]
    [InlineData("*", 0, "B|app*lit|app/|app/a/x1|app/a/x2|app/b/x1|app/b/y1|app/bb/x12|apple|a\uffff|a\uffff\uffff|b|z/1|z/10|z/2|é")]
    [InlineData("app/*/x?", 2, "app/a/x1|app/a/x2")]
    [InlineData("*x1", 1, "app/a/x1")]
    [InlineData("app/b?", 0, "")]
    [InlineData("z/1?", 0, "z/10")]
    [InlineData("nope*", 0, "")]
    public void List_matches_in_ordinal_order(string pattern, int limit, string expected)
    {
        var items = Store().List(pattern, limit).ToList();
        Assert.Equal(expected, string.Join("|", items.Select(i => i.Key)));
        foreach (var item in items)
            Assert.Equal("v:" + item.Key, S(item.Value));
    }

    [Fact]
    public void List_result_is_unaffected_by_later_writes()
    {
        var sm = Store();
        var items = sm.List("app/", 0);
        sm.Next(Put(2, 1, "app/c", "new"));
        sm.Next(Del(2, 2, "app/a/x1"));
        Assert.Equal(6, items.Count());
        Assert.Equal(6, sm.List("app/", 0).Count());
    }

    [Fact]
    public void List_on_an_empty_store_and_bad_arguments()
    {
        var sm = new KvStateMachine();
        Assert.Empty(sm.List("", 0));
        Assert.Empty(sm.List("a*", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => sm.List("", -1));
        Assert.Throws<ArgumentNullException>(() => sm.List(null!, 0));
    }

    [Theory]
    [InlineData("a*b", "ab", true)]
    [InlineData("a*b", "axxb", true)]
    [InlineData("a*b", "axxbx", false)]
    [InlineData("a*b*c", "abxbc", true)]
    [InlineData("a*b*c", "acb", false)]
    [InlineData("**", "", true)]
    [InlineData("?", "", false)]
    [InlineData("*?", "", false)]
    [InlineData("*?", "x", true)]
    [InlineData("a?c", "abc", true)]
    [InlineData("a?c", "ac", false)]
    [InlineData("*aaa*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false)]
    [InlineData("x*", "x/y/z", true)]
    public void Glob(string pattern, string key, bool match) => Assert.Equal(match, KeyPattern.GlobMatch(pattern, key));

    [Theory]
    [InlineData("app/", false, "app/")]
    [InlineData("app/*/x", true, "app/")]
    [InlineData("ap?", true, "ap")]
    [InlineData("*", true, "")]
    public void Pattern_kind_and_literal_prefix(string pattern, bool wildcard, string prefix)
    {
        Assert.Equal(wildcard, KeyPattern.IsWildcard(pattern));
        Assert.Equal(prefix, KeyPattern.LiteralPrefix(pattern));
    }
}
