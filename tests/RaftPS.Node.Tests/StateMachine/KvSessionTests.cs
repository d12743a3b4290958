using RaftPS.Node.StateMachine;
using RaftPS.Protocol;
using static RaftPS.Node.Tests.StateMachine.Kv;

namespace RaftPS.Node.Tests.StateMachine;

public class KvSessionTests
{
    [Fact]
    public void Retried_put_applies_once_and_gets_the_same_answer()
    {
        var sm = new KvStateMachine();
        var first = sm.Next(Put(1, 1, "k", "v"));
        sm.Next(Put(2, 1, "other", "x"));
        var retry = sm.Next(Put(1, 1, "k", "v"));

        Assert.Same(first, retry);
        Assert.Equal(1UL, sm.Get("k")!.Version); // not rewritten at index 3
        Assert.Equal(3UL, sm.AppliedIndex);
    }

    [Fact]
    public void Retried_delete_is_not_answered_with_KeyNotFound()
    {
        var sm = new KvStateMachine();
        sm.Next(Put(1, 1, "k", "v"));
        Assert.Equal(ReplyStatus.Ok, sm.Next(Del(1, 2, "k")).Status);
        var retry = sm.Next(Del(1, 2, "k"));
        Assert.Equal(ReplyStatus.Ok, retry.Status);
        Assert.Equal(2UL, retry.Version);
    }

    /// <summary>
    /// The increment pattern of thesis §6.3: read, CAS on the version read, and the reply is lost so every CAS is sent
    /// twice. Without sessions the second copy would fail (VersionMismatch) or, as a Put, count twice.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void Increment_with_retries_counts_each_increment_once(int copiesPerRequest)
    {
        var sm = new KvStateMachine();
        sm.Next(Put(9, 1, "counter", "0"));
        for (int i = 1; i <= 20; i++)
        {
            var current = sm.Get("counter")!;
            int n = int.Parse(S(current.Value));
            var cas = Cas(1, (ulong)i, "counter", (n + 1).ToString(), current.Version, null, ts: i);
            KvResult? firstAnswer = null;
            for (int copy = 0; copy < copiesPerRequest; copy++)
            {
                var r = sm.Next(cas);
                Assert.Equal(ReplyStatus.Ok, r.Status);
                firstAnswer ??= r;
                Assert.Equal(firstAnswer, r);
            }
        }
        Assert.Equal("20", sm.Value("counter"));
    }

    [Fact]
    public void Stale_duplicate_is_rejected_and_changes_nothing()
    {
        var sm = new KvStateMachine();
        sm.Next(Put(1, 1, "k", "one"));
        sm.Next(Put(1, 2, "k", "two", ts: 10));
        var before = sm.TakeSnapshot();

        var stale = sm.Next(Put(1, 1, "k", "one", ts: 10));

        Assert.Equal(new KvResult(1, 1, ReplyStatus.BadRequest, 0, null), stale);
        Assert.Equal("two", sm.Value("k"));
        var session = sm.GetSession(1)!;
        Assert.Equal(2UL, session.LastSequence);
        Assert.Equal(ReplyStatus.Ok, session.LastResult.Status);
        // Only the applied index moved.
        var again = new KvStateMachine();
        again.Restore(before);
        again.NextNoop();
        Assert.Equal(again.TakeSnapshot(), sm.TakeSnapshot());
    }

    [Theory]
    [InlineData(2UL)]
    [InlineData(7UL)]
    [InlineData(ulong.MaxValue)]
    public void Unknown_client_with_later_sequence_gets_SessionExpired_and_nothing_happens(ulong seq)
    {
        var sm = new KvStateMachine();
        var r = sm.Next(Put(5, seq, "k", "v"));
        Assert.Equal(new KvResult(5, seq, ReplyStatus.SessionExpired, 0, null), r);
        Assert.Null(sm.Get("k"));
        Assert.Null(sm.GetSession(5));
        Assert.Equal(0, sm.SessionCount);
    }

    [Fact]
    public void Sequence_may_skip_ahead_within_a_session()
    {
        var sm = new KvStateMachine();
        sm.Next(Put(1, 1, "a", "1"));
        Assert.Equal(ReplyStatus.Ok, sm.Next(Put(1, 3, "b", "2")).Status);
        Assert.Equal(3UL, sm.GetSession(1)!.LastSequence);
        Assert.Equal(ReplyStatus.BadRequest, sm.Next(Put(1, 2, "c", "3")).Status); // older than the last answered
        Assert.Null(sm.Get("c"));
    }

    [Fact]
    public void Error_results_are_cached_too()
    {
        var sm = new KvStateMachine();
        sm.Next(Put(2, 1, "k", "a"));
        var mismatch = sm.Next(Cas(1, 1, "k", "b", 0, null));
        Assert.Equal(ReplyStatus.VersionMismatch, mismatch.Status);
        sm.Next(Del(2, 2, "k")); // now the CAS would succeed if re-executed
        Assert.Same(mismatch, sm.Next(Cas(1, 1, "k", "b", 0, null)));
        Assert.Null(sm.Get("k"));
    }

    /// <summary>Client 1 is last seen at log time 0; with a 1000 ms timeout it survives at 1000 and expires after.</summary>
    [Theory]
    [InlineData(999L, false)]
    [InlineData(1_000L, false)]
    [InlineData(1_001L, true)]
    [InlineData(50_000L, true)]
    public void Session_expires_by_log_time(long laterTimestamp, bool expired)
    {
        var sm = new KvStateMachine(sessionTimeoutMs: 1_000, maxSessions: 100);
        sm.Next(Put(1, 1, "a", "1", ts: 0));
        sm.Next(Put(2, 1, "b", "1", ts: laterTimestamp)); // another client's command moves log time

        Assert.Equal(expired, sm.GetSession(1) is null);
        var r = sm.Next(Put(1, 2, "a", "2", ts: laterTimestamp));
        Assert.Equal(expired ? ReplyStatus.SessionExpired : ReplyStatus.Ok, r.Status);
        Assert.Equal(expired ? "1" : "2", sm.Value("a"));
    }

    [Fact]
    public void Expiry_runs_on_log_time_even_when_no_other_command_arrives_in_between()
    {
        var sm = new KvStateMachine(sessionTimeoutMs: 1_000, maxSessions: 100);
        sm.Next(Put(1, 1, "a", "1", ts: 0));
        // The client's own next request, stamped 5 s later: its session has expired before it is looked up.
        Assert.Equal(ReplyStatus.SessionExpired, sm.Next(Put(1, 2, "a", "2", ts: 5_000)).Status);
        // The expired id cannot start over, not even at sequence 1 (that could be a retry of its first write); a new id can.
        Assert.Equal(ReplyStatus.SessionExpired, sm.Next(Put(1, 1, "a", "3", ts: 5_000)).Status);
        Assert.Equal(ReplyStatus.Ok, sm.Next(Put(2, 1, "a", "3", ts: 5_000)).Status);
        Assert.Equal("3", sm.Value("a"));
    }

    [Fact]
    public void A_retried_first_write_of_an_evicted_session_is_not_applied_again()
    {
        var sm = new KvStateMachine(sessionTimeoutMs: 1_000_000, maxSessions: 1);
        var first = sm.Next(Put(1, 1, "a", "1", ts: 0));
        Assert.Equal(ReplyStatus.Ok, first.Status);
        Assert.Equal(ReplyStatus.Ok, sm.Next(Put(2, 1, "b", "1", ts: 1)).Status); // evicts client 1's session
        sm.Next(Put(3, 1, "a", "other", ts: 2));                                   // someone else overwrites a
        // The network delivers client 1's original first write again: it must not overwrite a second time.
        Assert.Equal(ReplyStatus.SessionExpired, sm.Next(Put(1, 1, "a", "1", ts: 3)).Status);
        Assert.Equal("other", sm.Value("a"));
        // And a snapshot keeps that memory.
        var restored = new KvStateMachine(sessionTimeoutMs: 1_000_000, maxSessions: 1);
        restored.Restore(sm.TakeSnapshot());
        Assert.Equal(sm.TakeSnapshot(), restored.TakeSnapshot());
    }

    [Fact]
    public void Log_time_never_goes_backwards_and_follows_the_new_leaders_clock_from_where_it_is()
    {
        var sm = new KvStateMachine(sessionTimeoutMs: 1_000, maxSessions: 100);
        sm.Next(Put(1, 1, "a", "1", ts: 5_000));
        sm.Next(Put(2, 1, "b", "1", ts: 100)); // a new leader whose clock is behind
        Assert.Equal(5_000, sm.LogTimeMs);
        Assert.Equal(5_000, sm.GetSession(2)!.LastSeenMs);
        sm.Next(Put(3, 1, "c", "1", ts: 900));  // 800 ms later on the new leader's clock
        Assert.Equal(5_800, sm.LogTimeMs);
        Assert.NotNull(sm.GetSession(2));       // idle 800 by log time
        sm.Next(Put(3, 2, "c", "2", ts: 1_200));
        Assert.Null(sm.GetSession(2));          // idle 1100: expired, though the new clock never reached 5000
    }

    /// <summary>
    /// A leader whose wall clock jumps a day ahead moves log time by one step, not a day: sessions stay, and later
    /// commands advance log time by the leader's elapsed time from its new reading.
    /// </summary>
    [Fact]
    public void A_leader_clock_jumping_ahead_moves_log_time_by_at_most_one_step_per_command()
    {
        var sm = new KvStateMachine(KvSettings.Default with { SessionTimeoutMs = 10_000, MaxClockStepMs = 2_000 });
        for (ulong c = 1; c <= 50; c++) sm.Next(Put(c, 1, "k" + c, "v", ts: 1_000 + (long)c));
        long before = sm.LogTimeMs;
        const long day = 86_400_000;
        sm.Next(Put(100, 1, "x", "1", ts: day));
        Assert.Equal(before + 2_000, sm.LogTimeMs);
        Assert.Equal(51, sm.SessionCount);       // nobody expired
        sm.Next(Put(100, 2, "x", "2", ts: day + 3_000)); // 3 s of real time: still bounded by the step
        Assert.Equal(before + 4_000, sm.LogTimeMs);
        sm.Next(Put(100, 3, "x", "3", ts: day + 4_000));
        Assert.Equal(before + 5_000, sm.LogTimeMs);
        Assert.Equal(51, sm.SessionCount);
        // Time passes normally afterwards: the idle sessions expire after their timeout, not before.
        for (int i = 0; i < 2; i++) sm.Next(Put(100, 4 + (ulong)i, "x", "4", ts: day + 4_000 + 2_000 * (i + 1)));
        Assert.Equal(before + 9_000, sm.LogTimeMs); // the first sessions are idle 9049 ms of their 10000
        Assert.Equal(51, sm.SessionCount);
        sm.Next(Put(100, 6, "x", "5", ts: day + 10_000));
        Assert.Equal(1, sm.SessionCount);
    }

    [Fact]
    public void Retry_keeps_a_session_alive_but_a_stale_duplicate_does_not()
    {
        var sm = new KvStateMachine(sessionTimeoutMs: 1_000, maxSessions: 100);
        sm.Next(Put(1, 1, "a", "1", ts: 0));
        sm.Next(Put(2, 1, "b", "1", ts: 0));
        sm.Next(Put(2, 2, "b", "2", ts: 0));
        sm.Next(Put(1, 1, "a", "1", ts: 900));   // retry: refreshes client 1
        sm.Next(Put(2, 1, "b", "1", ts: 900));   // stale: client 2 stays last seen at 0
        Assert.Equal(900, sm.GetSession(1)!.LastSeenMs);
        Assert.Equal(0, sm.GetSession(2)!.LastSeenMs);

        sm.Next(Put(3, 1, "c", "1", ts: 1_500));
        Assert.NotNull(sm.GetSession(1));
        Assert.Null(sm.GetSession(2));
    }

    [Fact]
    public void Least_recently_used_sessions_are_evicted_beyond_MaxSessions()
    {
        var sm = new KvStateMachine(sessionTimeoutMs: 1_000_000, maxSessions: 3);
        sm.Next(Put(1, 1, "k", "1", ts: 10));
        sm.Next(Put(2, 1, "k", "2", ts: 20));
        sm.Next(Put(3, 1, "k", "3", ts: 30));
        sm.Next(Put(1, 2, "k", "1b", ts: 40)); // client 1 becomes most recent

        sm.Next(Put(4, 1, "k", "4", ts: 50));  // evicts client 2 (last seen 20)
        Assert.Equal([1UL, 3UL, 4UL], Live(sm, 1, 5));
        sm.Next(Put(5, 1, "k", "5", ts: 60));  // evicts client 3 (30)
        Assert.Equal([1UL, 4UL, 5UL], Live(sm, 1, 5));
        Assert.Equal(3, sm.SessionCount);

        // An evicted client's next request is told its session is gone.
        Assert.Equal(ReplyStatus.SessionExpired, sm.Next(Put(2, 2, "k", "2b", ts: 70)).Status);
        Assert.Equal("5", sm.Value("k"));
    }

    [Fact]
    public void Eviction_ties_on_log_time_go_to_the_lowest_client_id()
    {
        var sm = new KvStateMachine(sessionTimeoutMs: 1_000_000, maxSessions: 3);
        foreach (ulong id in new ulong[] { 70, 50, 60 })
            sm.Next(Put(id, 1, "k", id.ToString(), ts: 100));
        sm.Next(Put(10, 1, "k", "new", ts: 100)); // all tie at 100: client 50 goes, never the new one
        Assert.Equal([10UL, 60UL, 70UL], Live(sm, 1, 100));
        sm.Next(Put(20, 1, "k", "new2", ts: 100)); // still all tied: now client 10 is the lowest
        Assert.Equal([20UL, 60UL, 70UL], Live(sm, 1, 100));
        sm.Next(Put(60, 2, "k", "touch", ts: 101));
        sm.Next(Put(30, 1, "k", "new3", ts: 101)); // 20 and 70 tie at 100, 60 is newer
        Assert.Equal([30UL, 60UL, 70UL], Live(sm, 1, 100));
    }

    [Fact]
    public void Expiry_and_eviction_are_deterministic_across_replicas_and_restores()
    {
        var log = Workload(seed: 11, count: 3_000);
        var a = new KvStateMachine(sessionTimeoutMs: 500, maxSessions: 3);
        var b = new KvStateMachine(sessionTimeoutMs: 500, maxSessions: 3);
        int expired = 0;
        for (int i = 0; i < log.Count; i++)
        {
            var ra = a.ApplyEntry(log[i]);
            if (i == log.Count / 2)
            {
                var fresh = new KvStateMachine(sessionTimeoutMs: 500, maxSessions: 3);
                fresh.Restore(b.TakeSnapshot());
                b = fresh;
            }
            var rb = b.ApplyEntry(log[i]);
            Assert.Equal(ra, rb);
            if (ra?.Status == ReplyStatus.SessionExpired)
                expired++;
            Assert.True(a.SessionCount <= 3);
        }
        Assert.True(expired > 0, "the workload should exercise expired sessions");
        Assert.Equal(a.TakeSnapshot(), b.TakeSnapshot());
    }

    private static ulong[] Live(KvStateMachine sm, ulong from, ulong to)
    {
        var ids = new List<ulong>();
        for (ulong id = from; id <= to; id++)
            if (sm.GetSession(id) is not null)
                ids.Add(id);
        return [.. ids];
    }
}
