using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Wire;

/// <summary>
/// Feeds random and mutated datagrams and payloads to every decoder: nothing but <see cref="WireFormatException"/>
/// (or a false return) may come out, and every call returns (all loops are bounded by input size).
/// </summary>
public class WireFuzzTests
{
    private const ulong Cluster = 4242;

    internal static byte[] Mutate(Random r, byte[] source)
    {
        var d = source.ToArray();
        switch (r.Next(6))
        {
            case 0: // flip a few bits
                for (int i = r.Next(1, 4); i > 0 && d.Length > 0; i--) d[r.Next(d.Length)] ^= (byte)(1 << r.Next(8));
                return d;
            case 1: // truncate
                return d[..r.Next(d.Length + 1)];
            case 2: // extend with noise
                var extra = new byte[r.Next(1, 16)];
                r.NextBytes(extra);
                return [.. d, .. extra];
            case 3: // overwrite a byte with an edge value
                if (d.Length > 0) d[r.Next(d.Length)] = (byte)(r.Next(2) == 0 ? 0xFF : 0x00);
                return d;
            case 4: // overwrite a run with random bytes
                if (d.Length > 0)
                {
                    int start = r.Next(d.Length);
                    int len = Math.Min(d.Length - start, r.Next(1, 9));
                    r.NextBytes(d.AsSpan(start, len));
                }
                return d;
            default: // duplicate a slice
                if (d.Length < 2) return d;
                int from = r.Next(d.Length - 1);
                return [.. d[..(from + 1)], .. d[from..]];
        }
    }

    [Fact]
    public void DatagramReceiverSurvivesRandomAndMutatedInput()
    {
        var r = new Random(12345);
        var plain = new WireOptions { MaxDatagramSize = 700, ReassemblyTimeout = TimeSpan.FromMilliseconds(50) };
        var keyed = new WireOptions { MaxDatagramSize = 700, Keys = Security.TestKeys.All(Cluster) };
        var receivers = new[]
        {
            new DatagramReceiver(plain, Cluster, null, MessageKind.Raft, MessageKind.ClientRequest, MessageKind.ClientReply),
            new DatagramReceiver(keyed, Cluster, null, MessageKind.Raft, MessageKind.ClientRequest, MessageKind.ClientReply),
        };
        var framers = new[] { new DatagramFramer(plain, Cluster, 1), new DatagramFramer(keyed, Cluster, 1) };

        // Seeds: valid single and chunked datagrams of random payloads (including valid client payloads).
        var seeds = new List<byte[]>();
        for (int i = 0; i < 40; i++)
        {
            using var w = new WireWriter();
            if (i % 2 == 0) ClientCodec.Write(w, WireGen.Request(r));
            else w.WriteRaw(WireGen.Bytes(r, 2500));
            seeds.AddRange(framers[i % 4 == 0 ? 1 : 0].FrameToArrays((MessageKind)(1 + i % 3), w));
        }

        int accepted = 0;
        for (int i = 0; i < 100_000; i++)
        {
            byte[] d;
            if (i % 5 == 0)
            {
                d = new byte[r.Next(0, 800)];
                r.NextBytes(d);
                if (d.Length >= 4 && r.Next(2) == 0) "RFPS"u8.CopyTo(d); // get past the magic check sometimes
            }
            else
            {
                d = Mutate(r, seeds[r.Next(seeds.Count)]);
            }
            foreach (var rx in receivers)
            {
                if (!rx.TryReceive(d, now: i, out var m)) continue;
                accepted++;
                // Whatever payload survives is also fed to the payload decoders.
                ClientCodec.TryReadRequest(m.Payload, out _);
                ClientCodec.TryReadReply(m.Payload, out _);
            }
        }
        Assert.True(accepted > 0);
        foreach (var rx in receivers)
        {
            Assert.True(rx.Counters.DroppedTotal > 0);
            Assert.True(rx.Reassembler.InProgress <= plain.MaxInProgressMessages);
        }
    }

    [Fact]
    public void ClientCodecsThrowOnlyWireFormatException()
    {
        var r = new Random(777);
        var seeds = new List<byte[]>();
        for (int i = 0; i < 50; i++)
        {
            seeds.Add(ClientCodec.Encode(WireGen.Request(r)));
            seeds.Add(ClientCodec.Encode(WireGen.Reply(r)));
        }
        int ok = 0;
        for (int i = 0; i < 100_000; i++)
        {
            byte[] p = i % 4 == 0 ? WireGen.Bytes(r, 200) : Mutate(r, seeds[r.Next(seeds.Count)]);
            try
            {
                ClientCodec.ReadRequest(p);
                ok++;
            }
            catch (WireFormatException) { }
            try
            {
                ClientCodec.ReadReply(p);
                ok++;
            }
            catch (WireFormatException) { }
        }
        Assert.True(ok > 0);
    }
}
