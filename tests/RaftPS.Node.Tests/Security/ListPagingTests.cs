using RaftPS.Node.StateMachine;
using static RaftPS.Node.Tests.StateMachine.Kv;

namespace RaftPS.Node.Tests.Security;

/// <summary>List replies are pages: bounded items, bytes and keys examined, with a continuation that loses nothing.</summary>
public class ListPagingTests
{
    private static KvStateMachine Store(int n, int valueBytes = 10)
    {
        var sm = new KvStateMachine();
        for (int i = 0; i < n; i++) sm.Next(Put(1, (ulong)i + 1, $"k/{i:D5}", new string('v', valueBytes)));
        return sm;
    }

    private static List<string> All(KvStateMachine sm, string pattern, int limit, long maxBytes, int maxScanned, out int pages)
    {
        var keys = new List<string>();
        string? after = null;
        pages = 0;
        do
        {
            var page = sm.ListPage(pattern, after, limit, maxBytes, maxScanned, out after);
            Assert.True(page.Count <= limit);
            keys.AddRange(page.Select(i => i.Key));
            pages++;
        } while (after is not null);
        return keys;
    }

    [Fact]
    public void Pages_by_count_cover_every_key_once_in_order()
    {
        var sm = Store(2500);
        var keys = All(sm, "k/", 1000, long.MaxValue, int.MaxValue, out int pages);
        Assert.Equal(3, pages);
        Assert.Equal(sm.List("k/", 0).Select(i => i.Key), keys);
    }

    [Fact]
    public void Pages_stop_at_the_byte_budget()
    {
        var sm = Store(100, valueBytes: 1000);
        var first = sm.ListPage("", null, 1000, 10_000, int.MaxValue, out var next);
        Assert.InRange(first.Count, 5, 11);
        Assert.NotNull(next);
        Assert.Equal(100, All(sm, "", 1000, 10_000, int.MaxValue, out _).Count);
    }

    [Fact]
    public void A_sparse_wildcard_examines_a_bounded_number_of_keys_per_page_and_still_finds_every_match()
    {
        var sm = Store(3000);
        var first = sm.ListPage("k/*7", null, 1000, long.MaxValue, 500, out var next);
        Assert.Equal(50, first.Count); // k/00007 … k/00497: one in ten of the first 500 keys
        Assert.Equal("k/00499", next);
        var all = All(sm, "k/*7", 1000, long.MaxValue, 500, out int pages);
        Assert.Equal(300, all.Count);
        Assert.Equal(6, pages);
    }

    [Fact]
    public void The_default_page_is_bounded_whatever_the_request_asks()
    {
        Assert.Equal(ListPaging.DefaultPageSize, ListPaging.PageSize(0));
        Assert.Equal(ListPaging.MaxPageSize, ListPaging.PageSize(int.MaxValue));
        Assert.Equal(7, ListPaging.PageSize(7));
        Assert.True(ListPaging.MaxPageBytes < 64 << 20);
    }
}
