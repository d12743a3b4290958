using System.Net.Sockets;
using RaftPS.Cli;
using RaftPS.Client;
using RaftPS.Node.StateMachine;
using RaftPS.Node.Storage;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Cli;

public class OutputTests
{
    public static TheoryData<string, Exception, int> ExceptionCases => new()
    {
        { "key not found", new RaftKeyNotFoundException("k"), 4 },
        { "version mismatch", new RaftVersionMismatchException("k", 3, 2), 5 },
        { "unavailable", new RaftUnavailableException("down", []), 6 },
        { "timeout", new RaftTimeoutException("slow", true, []), 7 },
        { "too large", new RaftValueTooLargeException("k", null), 8 },
        { "bad request", new RaftBadRequestException("no"), 9 },
        { "generic client error", new RaftClientException("odd"), 10 },
        { "usage", new UsageException("say where"), 2 },
        { "cluster file", new ClusterDefinitionException("bad file"), 2 },
        { "argument", new ArgumentException("empty key"), 2 },
        { "wal corruption", new WalCorruptionException("/d/wal-1.log", 61, "checksum mismatch"), 3 },
        { "recovery", new StorageRecoveryException("log ends before commit"), 3 },
        { "snapshot format", new KvSnapshotFormatException("truncated"), 3 },
        { "socket", new SocketException((int)SocketError.AddressAlreadyInUse), 1 },
        { "anything else", new InvalidOperationException("boom"), 1 },
        { "cancelled", new OperationCanceledException(), 130 },
    };

    [Theory]
    [MemberData(nameof(ExceptionCases))]
    public void Every_failure_has_its_stable_exit_code(string name, Exception exception, int code) =>
        Assert.True(ExitCodes.For(exception) == code, $"{name}: got {ExitCodes.For(exception)}, want {code}");

    [Fact]
    public void Exit_codes_are_distinct_per_error_id()
    {
        string[] ids = [RaftErrorIds.KeyNotFound, RaftErrorIds.VersionMismatch, RaftErrorIds.Unavailable, RaftErrorIds.Timeout,
            RaftErrorIds.ValueTooLarge, RaftErrorIds.BadRequest, RaftErrorIds.ClientError];
        var codes = ids.Select(ExitCodes.ForErrorId).ToArray();
        Assert.Equal(codes.Length, codes.Distinct().Count());
        Assert.DoesNotContain(codes, c => c is ExitCodes.Success or ExitCodes.Failure or ExitCodes.Usage or ExitCodes.StorageCorruption);
        Assert.Equal(ExitCodes.ClientError, ExitCodes.ForErrorId("RaftPS.SomethingNew"));
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("two\nlines", "two\\nlines")]
    [InlineData("tab\tand\r", "tab\\tand\\r")]
    [InlineData("bell\u0007", "bell\\x07")]
    [InlineData("ünïcödé ✓", "ünïcödé ✓")]
    [InlineData("", "")]
    public void Cells_stay_on_one_line(string text, string expected) => Assert.Equal(expected, Output.Cell(text));

    [Theory]
    [InlineData(new byte[] { 0x68, 0x69 }, "hi")]
    [InlineData(new byte[] { 0xE2, 0x9C, 0x93 }, "✓")]
    [InlineData(new byte[] { 0xFF, 0xFE }, "base64://4=")]
    [InlineData(new byte[] { 0xE2, 0x9C }, "base64:4pw=")] // truncated UTF-8 sequence
    [InlineData(new byte[0], "")]
    public void Values_that_are_not_UTF8_are_shown_as_base64(byte[] value, string expected) => Assert.Equal(expected, Output.Display(value));

    [Fact]
    public void Tables_align_columns_without_trailing_spaces()
    {
        var w = new StringWriter();
        Output.Table(w, ["A", "BB", "C"], [["xxx", "y", "z"], ["1", "22222", ""]]);
        Assert.Equal(["A    BB     C", "xxx  y      z", "1    22222  "[..^2]], w.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.Throws<ArgumentException>(() => Output.Table(new StringWriter(), ["A"], [["1", "2"]]));
    }
}
