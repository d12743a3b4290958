using System.Net;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Cluster;

public sealed class ClusterDefinitionTests
{
    private const string Json = """
        {
          "cluster": "demo",
          "key": null,
          "members": [
            { "id": "n1", "host": "127.0.0.1", "port": 7001 },
            { "id": "n2", "host": "127.0.0.1", "port": 7002 },
            { "id": "n3", "host": "localhost", "port": 7003 }
          ]
        }
        """;

    private const string Text = """
        # demo cluster
        cluster demo

        n1 127.0.0.1 7001   # first
        n2	127.0.0.1	7002
          n3 localhost 7003
        """;

    [Theory]
    [InlineData(Json)]
    [InlineData(Text)]
    public void BothFormatsDescribeTheSameCluster(string source)
    {
        var c = ClusterDefinition.Parse(source);
        Assert.Equal("demo", c.ClusterName);
        Assert.Equal(ClusterId.FromName("demo"), c.ClusterId);
        Assert.Null(c.Key);
        Assert.Equal(
            [new ClusterMember("n1", "127.0.0.1", 7001), new ClusterMember("n2", "127.0.0.1", 7002), new ClusterMember("n3", "localhost", 7003)],
            c.Members);
        Assert.Equal("127.0.0.1:7002", c.Find("n2")!.Endpoint);
        Assert.Same(c.Members[2], c.Find("N3")); // ids compare case-insensitively
        Assert.Null(c.Find("n4"));
        Assert.Same(c.Members[0], c.Find(c.Members[0].NodeId));
    }

    [Fact]
    public void TextWithoutClusterLineUsesTheDefaultName()
    {
        var c = ClusterDefinition.Parse("a 10.0.0.1 7001\nb 10.0.0.2 7001\n");
        Assert.Equal(ClusterDefinition.DefaultClusterName, c.ClusterName);
        Assert.Equal("raftps", c.ClusterName);
        Assert.Equal(2, c.Members.Count);
    }

    [Fact]
    public void JsonWithoutClusterUsesTheDefaultNameAndToleratesCommentsAndTrailingCommas()
    {
        var c = ClusterDefinition.Parse("""
            // hand-edited
            { "members": [ { "id": "a", "host": "::1", "port": 1 }, ], }
            """);
        Assert.Equal("raftps", c.ClusterName);
        Assert.Equal("[::1]:1", c.Members[0].Endpoint);
    }

    [Fact]
    public void KeyIsReadFromBothFormats()
    {
        Assert.Equal("s3#cret", ClusterDefinition.Parse("key s3#cret # a '#' inside a token is not a comment\nn1 127.0.0.1 7001").Key);
        Assert.Equal("p w", ClusterDefinition.Parse("""{"cluster":"x","key":"p w","members":[{"id":"n1","host":"127.0.0.1","port":7001}]}""").Key);
    }

    [Theory]
    [InlineData(Json)]
    [InlineData(Text)]
    [InlineData("cluster c.1\nkey k\nn-1 127.0.0.1 1\nn_2 [::1] 65535\nN.3 host.example 2")]
    public void ToJsonRoundTrips(string source)
    {
        var c = ClusterDefinition.Parse(source);
        var again = ClusterDefinition.Parse(c.ToJson());
        Assert.Equal(c.ClusterName, again.ClusterName);
        Assert.Equal(c.Key, again.Key);
        Assert.Equal(c.Members, again.Members);
        Assert.Contains("\"members\"", c.ToJson());
    }

    [Fact]
    public void NodeIdsAreStableNonzeroAndDistinct()
    {
        // Fixed values: every process and version must derive the same numeric ids.
        Assert.Equal(ClusterDefinition.NodeIdOf("n1"), new ClusterMember("n1", "h", 1).NodeId);
        Assert.Equal(System.IO.Hashing.XxHash64.HashToUInt64("n1"u8), ClusterDefinition.NodeIdOf("n1"));
        var ids = Enumerable.Range(0, 1000).Select(i => ClusterDefinition.NodeIdOf("node-" + i)).ToHashSet();
        Assert.Equal(1000, ids.Count);
        Assert.DoesNotContain(0UL, ids);
    }

    [Fact]
    public void LoadReadsFilesAndNamesThemInErrors()
    {
        string dir = Path.Combine(Path.GetTempPath(), "raftps-cluster-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string good = Path.Combine(dir, "cluster.json");
            ClusterDefinition.Parse(Text).Save(good);
            Assert.Equal("demo", ClusterDefinition.Load(good).ClusterName);
            Assert.False(File.Exists(good + ".tmp"));

            string bad = Path.Combine(dir, "cluster.txt");
            File.WriteAllText(bad, "n1 127.0.0.1 7001\nn2 127.0.0.1 x\n");
            var e = Assert.Throws<ClusterDefinitionException>(() => ClusterDefinition.Load(bad));
            Assert.Equal(ClusterDefinitionError.InvalidPort, e.Error);
            Assert.Equal(bad, e.FilePath);
            Assert.Equal(2, e.Line);
            Assert.StartsWith($"{bad}:2: ", e.Message);

            var missing = Assert.Throws<ClusterDefinitionException>(() => ClusterDefinition.Load(Path.Combine(dir, "nope.json")));
            Assert.Equal(ClusterDefinitionError.Unreadable, missing.Error);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    public static TheoryData<string, string, ClusterDefinitionError, int?, string?> Errors => new()
    {
        // name, text, error, line, member
        { "empty text", "", ClusterDefinitionError.NoMembers, null, null },
        { "only comments", "# nothing\n\n   # here\n", ClusterDefinitionError.NoMembers, null, null },
        { "only a cluster line", "cluster demo\n", ClusterDefinitionError.NoMembers, null, null },
        { "json no members", """{"cluster":"x","members":[]}""", ClusterDefinitionError.NoMembers, null, null },
        { "json members missing", """{"cluster":"x"}""", ClusterDefinitionError.NoMembers, null, null },
        { "duplicate id", "n1 127.0.0.1 7001\nn1 127.0.0.1 7002", ClusterDefinitionError.DuplicateId, 2, "n1" },
        { "duplicate id differing in case", "n1 127.0.0.1 7001\nN1 127.0.0.1 7002", ClusterDefinitionError.DuplicateId, 2, "N1" },
        { "json duplicate id", "{\"members\":[\n{\"id\":\"a\",\"host\":\"h\",\"port\":1},\n{\"id\":\"a\",\"host\":\"h\",\"port\":2}]}", ClusterDefinitionError.DuplicateId, 3, "a" },
        { "duplicate endpoint", "a 127.0.0.1 7001\nb 127.0.0.1 7001", ClusterDefinitionError.DuplicateEndpoint, 2, "b" },
        { "duplicate endpoint host case", "a Host.Example 7001\nb host.example 7001", ClusterDefinitionError.DuplicateEndpoint, 2, "b" },
        { "duplicate endpoint ipv6 spelling", "a ::1 7001\nb 0:0:0:0:0:0:0:1 7001", ClusterDefinitionError.DuplicateEndpoint, 2, "b" },
        { "port zero", "a 127.0.0.1 0", ClusterDefinitionError.InvalidPort, 1, "a" },
        { "port too big", "a 127.0.0.1 65536", ClusterDefinitionError.InvalidPort, 1, "a" },
        { "port negative", "a 127.0.0.1 -1", ClusterDefinitionError.InvalidPort, 1, "a" },
        { "port not a number", "a 127.0.0.1 http", ClusterDefinitionError.InvalidPort, 1, "a" },
        { "json port out of range", """{"members":[{"id":"a","host":"h","port":70000}]}""", ClusterDefinitionError.InvalidPort, 1, "a" },
        { "json port missing", """{"members":[{"id":"a","host":"h"}]}""", ClusterDefinitionError.InvalidPort, 1, "a" },
        { "json port as string", """{"members":[{"id":"a","host":"h","port":"7001"}]}""", ClusterDefinitionError.InvalidJson, 1, null },
        { "id with space-like char", "a/b 127.0.0.1 1", ClusterDefinitionError.InvalidId, 1, "a/b" },
        { "id with non-ascii letter", "nœud 127.0.0.1 1", ClusterDefinitionError.InvalidId, 1, "nœud" },
        { "id too long", new string('a', 65) + " 127.0.0.1 1", ClusterDefinitionError.InvalidId, 1, new string('a', 65) },
        { "json id empty", """{"members":[{"id":"","host":"h","port":1}]}""", ClusterDefinitionError.InvalidId, 1, "" },
        { "json id missing", """{"members":[{"host":"h","port":1}]}""", ClusterDefinitionError.InvalidId, 1, "#1" },
        { "json host missing", """{"members":[{"id":"a","port":1}]}""", ClusterDefinitionError.InvalidHost, 1, "a" },
        { "host unspecified", "a 0.0.0.0 1", ClusterDefinitionError.InvalidHost, 1, "a" },
        { "host with bad chars", "a ho_st! 1", ClusterDefinitionError.InvalidHost, 1, "a" },
        { "too few fields", "n1 127.0.0.1", ClusterDefinitionError.InvalidSyntax, 1, null },
        { "too many fields", "n1 127.0.0.1 7001 extra", ClusterDefinitionError.InvalidSyntax, 1, null },
        { "cluster line after members", "a h 1\ncluster late", ClusterDefinitionError.InvalidSyntax, 2, null },
        { "cluster line twice", "cluster a\ncluster b\na h 1", ClusterDefinitionError.InvalidSyntax, 2, null },
        { "bad cluster name", "cluster bad/name\na h 1", ClusterDefinitionError.InvalidClusterName, null, null },
        { "json blank key", """{"key":"  ","members":[{"id":"a","host":"h","port":1}]}""", ClusterDefinitionError.InvalidKey, null, null },
        { "json syntax", "{\n\"members\": [\n{\"id\": \"a\",,}\n]}", ClusterDefinitionError.InvalidJson, 3, null },
        { "json unknown property", """{"members":[{"id":"a","host":"h","prot":1}]}""", ClusterDefinitionError.InvalidJson, 1, null },
        { "json duplicate property", """{"members":[{"id":"a","id":"b","host":"h","port":1}]}""", ClusterDefinitionError.InvalidJson, 1, null },
        { "json null member", "{\"members\":[\n null ]}", ClusterDefinitionError.InvalidJson, 2, "#1" },
        { "json null document", "{}", ClusterDefinitionError.NoMembers, null, null },
        { "json truncated", """{"members":[{"id":"a","host":"h","port":1}""", ClusterDefinitionError.InvalidJson, 1, null },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void InvalidDefinitionsAreRejectedWithTheirReason(string name, string text, ClusterDefinitionError error, int? line, string? member)
    {
        var e = Assert.Throws<ClusterDefinitionException>(() => ClusterDefinition.Parse(text));
        Assert.True(error == e.Error, $"{name}: expected {error}, got {e.Error}: {e.Message}");
        Assert.True(line == e.Line, $"{name}: expected line {line}, got {e.Line}: {e.Message}");
        Assert.True(member == e.MemberId, $"{name}: expected member {member}, got {e.MemberId}: {e.Message}");
        if (line is not null) Assert.StartsWith($"line {line}: ", e.Message);
        Assert.False(string.IsNullOrWhiteSpace(e.Detail));
    }

    [Fact]
    public void NodeIdCollisionsAreReported()
    {
        // Real 64-bit collisions cannot be produced on purpose; a degenerate hash shows the check works.
        var e = Assert.Throws<ClusterDefinitionException>(() =>
            ClusterDefinition.Parse("alpha 127.0.0.1 1\nbeta 127.0.0.1 2\ngamma 127.0.0.1 3", id => id == "alpha" ? 1UL : 7UL));
        Assert.Equal(ClusterDefinitionError.NodeIdCollision, e.Error);
        Assert.Equal(3, e.Line);
        Assert.Equal("gamma", e.MemberId);
        Assert.Contains("beta", e.Message);

        var zero = Assert.Throws<ClusterDefinitionException>(() => ClusterDefinition.Parse("a h 1", _ => 0UL));
        Assert.Equal(ClusterDefinitionError.NodeIdCollision, zero.Error);
    }

    [Fact]
    public void ConstructorValidatesLikeTheParser()
    {
        Assert.Equal(ClusterDefinitionError.NoMembers,
            Assert.Throws<ClusterDefinitionException>(() => new ClusterDefinition("demo", [])).Error);
        Assert.Equal(ClusterDefinitionError.InvalidPort,
            Assert.Throws<ClusterDefinitionException>(() => new ClusterDefinition("demo", [new ClusterMember("a", "h", 0)])).Error);
        Assert.Equal(ClusterDefinitionError.InvalidId,
            Assert.Throws<ClusterDefinitionException>(() => new ClusterDefinition("demo", [new ClusterMember(null!, "h", 1)])).Error);
        Assert.Equal(ClusterDefinitionError.InvalidHost,
            Assert.Throws<ClusterDefinitionException>(() => new ClusterDefinition("demo", [new ClusterMember("a", null!, 1)])).Error);
        Assert.Equal(ClusterDefinitionError.InvalidClusterName,
            Assert.Throws<ClusterDefinitionException>(() => new ClusterDefinition("", [new ClusterMember("a", "h", 1)])).Error);
        Assert.Equal(ClusterDefinitionError.InvalidKey,
            Assert.Throws<ClusterDefinitionException>(() => new ClusterDefinition("demo", [new ClusterMember("a", "h", 1)], "")).Error);
    }

    [Fact]
    public void MembersCanBeAddedAndRemoved()
    {
        var c = ClusterDefinition.Parse(Text);
        var bigger = c.WithMember(new ClusterMember("n4", "127.0.0.1", 7004));
        Assert.Equal(4, bigger.Members.Count);
        Assert.Equal(3, c.Members.Count);
        Assert.Equal(ClusterDefinitionError.DuplicateId,
            Assert.Throws<ClusterDefinitionException>(() => c.WithMember(new ClusterMember("n1", "127.0.0.1", 7009))).Error);
        var smaller = bigger.WithoutMember("n2");
        Assert.Equal(["n1", "n3", "n4"], smaller.Members.Select(m => m.Id));
        Assert.Throws<ClusterDefinitionException>(() => smaller.WithoutMember("n2"));
        Assert.Equal(ClusterDefinitionError.NoMembers,
            Assert.Throws<ClusterDefinitionException>(() => ClusterDefinition.Parse("a h 1").WithoutMember("a")).Error);
    }

    [Fact]
    public void EndpointListsParse()
    {
        var eps = ClusterDefinition.ParseEndpoints("127.0.0.1:7001, 127.0.0.1:7002;[::1]:7003\n10.1.2.3:1");
        Assert.Equal(
            [new IPEndPoint(IPAddress.Loopback, 7001), new IPEndPoint(IPAddress.Loopback, 7002), new IPEndPoint(IPAddress.IPv6Loopback, 7003), new IPEndPoint(IPAddress.Parse("10.1.2.3"), 1)],
            eps);
        Assert.Equal(2, ClusterDefinition.ParseEndpoints(["127.0.0.1:1", "127.0.0.1:2"]).Count);
        // Host names resolve, IPv4 first.
        Assert.Equal(IPAddress.Loopback, ClusterDefinition.ParseEndpoint("localhost:7001").Address);
    }

    public static TheoryData<string, ClusterDefinitionError> BadEndpoints => new()
    {
        { "", ClusterDefinitionError.NoMembers },
        { " , ;", ClusterDefinitionError.NoMembers },
        { "127.0.0.1", ClusterDefinitionError.InvalidEndpoint },
        { "127.0.0.1:", ClusterDefinitionError.InvalidPort },
        { "127.0.0.1:0", ClusterDefinitionError.InvalidPort },
        { "127.0.0.1:65536", ClusterDefinitionError.InvalidPort },
        { "127.0.0.1:x", ClusterDefinitionError.InvalidPort },
        { "::1:7001", ClusterDefinitionError.InvalidEndpoint },
        { "0.0.0.0:7001", ClusterDefinitionError.InvalidEndpoint },
        { "bad_host!:7001", ClusterDefinitionError.InvalidEndpoint },
        { "127.0.0.1:7001,127.0.0.1:7001", ClusterDefinitionError.InvalidEndpoint },
    };

    [Theory]
    [MemberData(nameof(BadEndpoints))]
    public void BadEndpointListsAreRejected(string text, ClusterDefinitionError error)
    {
        var e = Assert.Throws<ClusterDefinitionException>(() => ClusterDefinition.ParseEndpoints(text));
        Assert.Equal(error, e.Error);
    }
}
