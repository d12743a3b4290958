using System.Net;
using System.Net.Sockets;
using RaftPS.Cli;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Cli;

/// <summary>`raftps node` run in-process: ready line, clean stop on cancellation (Ctrl+C), restart, refusal of damaged data.</summary>
public class NodeCommandTests : IDisposable
{
    private readonly CliTempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A single-member cluster on a free port: it elects itself, so it serves on its own.</summary>
    private (string File, ClusterMember Member) SingleNodeCluster()
    {
        var member = new ClusterMember("solo", "127.0.0.1", RaftpsCli.FreePort());
        var cluster = new ClusterDefinition("cli-" + Guid.NewGuid().ToString("N")[..6], [member]);
        string file = _dir.File("cluster.json");
        cluster.Save(file);
        return (file, member);
    }

    private sealed class RunningNode : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        public readonly StringWriter Out = new();
        public readonly StringWriter Err = new();
        public readonly Task<int> Exit;

        public RunningNode(params string[] args)
        {
            // Synchronized: the node writes from its own task while the test polls.
            var o = TextWriter.Synchronized(Out);
            var e = TextWriter.Synchronized(Err);
            Exit = Task.Run(() => RaftPS.Cli.Program.RunAsync(args, o, e, _stop.Token));
        }

        public string Stdout { get { lock (Out) return Out.ToString(); } }

        public async Task WaitReadyAsync() =>
            await RaftpsCli.WaitUntilAsync(() => Stdout.Contains(" listening on ") || Exit.IsCompleted, TimeSpan.FromSeconds(20), "the ready line");

        /// <summary>What Ctrl+C does: cancel, then the exit code (bounded).</summary>
        public async Task<int> StopAsync()
        {
            _stop.Cancel();
            return await Exit.WaitAsync(TimeSpan.FromSeconds(20));
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            try { await Exit.WaitAsync(TimeSpan.FromSeconds(20)); } catch (Exception) { }
            _stop.Dispose();
        }
    }

    [Fact]
    public async Task Node_prints_its_ready_line_serves_stops_cleanly_on_cancel_and_keeps_data_across_restart()
    {
        var (file, member) = SingleNodeCluster();
        string data = Path.Combine(_dir.Path, "solo");
        string[] args = ["node", "--id", "solo", "--cluster", file, "--data", data, "--segment-mb", "1"];
        string clusterName = ClusterDefinition.Load(file).ClusterName;

        await using (var node = new RunningNode(args))
        {
            await node.WaitReadyAsync();
            Assert.False(node.Exit.IsCompleted, $"node exited early: {node.Err}");
            Assert.Equal($"raftps node solo listening on 127.0.0.1:{member.Port} (cluster {clusterName})", node.Stdout.Split('\n')[0].Trim());
            var put = await RaftpsCli.RunAsync("put", "k", "kept", "--cluster", file);
            Assert.True(put.Code == ExitCodes.Success, put.ToString());

            Assert.Equal(ExitCodes.Success, await node.StopAsync());
            Assert.EndsWith("raftps node solo stopped", node.Stdout.Trim());
        }
        // The port is free again and the data directory is recovered.
        await using (var node = new RunningNode(args))
        {
            await node.WaitReadyAsync();
            var get = await RaftpsCli.RunAsync("get", "k", "--cluster", file);
            Assert.True(get.Code == ExitCodes.Success, get + node.Err.ToString());
            Assert.Equal("kept" + Environment.NewLine, get.Out);
            Assert.Equal(ExitCodes.Success, await node.StopAsync());
        }
    }

    [Fact]
    public async Task Damaged_write_ahead_log_exits_3_naming_the_file_and_offset()
    {
        var (file, _) = SingleNodeCluster();
        string data = Path.Combine(_dir.Path, "solo");
        string[] args = ["node", "--id", "solo", "--cluster", file, "--data", data, "--segment-mb", "1"];
        await using (var node = new RunningNode(args))
        {
            await node.WaitReadyAsync();
            for (int i = 0; i < 5; i++)
                Assert.Equal(ExitCodes.Success, (await RaftpsCli.RunAsync("put", $"k{i}", "value", "--cluster", file)).Code);
            Assert.Equal(ExitCodes.Success, await node.StopAsync());
        }
        // Flip a byte inside the first entry record: synced records and sync marks follow, so this is damage in the
        // middle of the log, never a torn tail.
        string segment = Directory.GetFiles(data, "wal-*.log").Order(StringComparer.Ordinal).First();
        var first = RaftPS.Node.Tests.Durability.WalFiles.Records(segment).First(rec => rec.Type == RaftPS.Node.Storage.RecordType.Entry);
        long offset = first.Offset + RaftPS.Node.Storage.WalFormat.HeaderSize + 2;
        using (var fs = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = offset;
            int b = fs.ReadByte();
            fs.Position = offset;
            fs.WriteByte((byte)(b ^ 0xFF));
        }

        var r = await RaftpsCli.RunAsync(args);
        Assert.True(r.Code == ExitCodes.StorageCorruption, r.ToString());
        Assert.Equal("", r.Out); // never announced itself as serving
        Assert.Contains(segment, r.Err);
        Assert.Contains($"offset {first.Offset}", r.Err);
        Assert.Contains("is damaged", r.Err);
    }

    [Fact]
    public async Task A_port_in_use_exits_1_with_a_clear_message()
    {
        using var blocker = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        blocker.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)blocker.LocalEndPoint!).Port;
        string file = _dir.File("taken.txt", $"cluster taken\nn1 127.0.0.1 {port}\n");

        var r = await RaftpsCli.RunAsync("node", "--id", "n1", "--cluster", file, "--data", Path.Combine(_dir.Path, "t"), "--segment-mb", "1");
        Assert.True(r.Code == ExitCodes.Failure, r.ToString());
        Assert.Contains($"cannot bind 127.0.0.1:{port}", r.Err);
        Assert.Equal("", r.Out);
    }
}
