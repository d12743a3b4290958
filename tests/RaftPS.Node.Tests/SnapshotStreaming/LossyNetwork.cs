using RaftPS.Node.SnapshotStreaming;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.SnapshotStreaming;

/// <summary>
/// An in-memory datagram network for snapshot streams: seeded loss, reordering (each delivery picks at random among the
/// oldest <see cref="ReorderWindow"/> datagrams in flight), optional corruption, delivered on one dispatcher thread.
/// </summary>
internal sealed class LossyNetwork : IDisposable
{
    private readonly object _gate = new();
    private readonly List<(ulong From, ulong To, MessageKind Kind, byte[] Payload)> _inFlight = new();
    private readonly Dictionary<ulong, Action<ulong, MessageKind, byte[]>> _nodes = new();
    private readonly Random _random;
    private readonly Thread _dispatcher;
    private bool _disposed;

    public LossyNetwork(int seed) 
    {
        _random = new Random(seed);
        _dispatcher = new Thread(Dispatch) { IsBackground = true, Name = "lossy-network" };
        _dispatcher.Start();
    }

    public double DropRate { get; set; }
    public int ReorderWindow { get; set; } = 1;
    /// <summary>Applied to each chunk payload before delivery; may change it (return true when it did).</summary>
    public Func<byte[], bool>? CorruptChunk { get; set; }
    public int Sent;
    public int Dropped;
    public int Corrupted;

    public int MaxPayload { get; set; } = 16 * 1024;

    public ISnapshotLink LinkFor(ulong self) => new Link(this, self);

    public void Attach(ulong id, Action<ulong, MessageKind, byte[]> handler)
    {
        lock (_gate) _nodes[id] = handler;
    }

    public void Detach(ulong id)
    {
        lock (_gate) _nodes.Remove(id);
    }

    private bool Send(ulong from, ulong to, MessageKind kind, WireWriter payload)
    {
        var bytes = payload.WrittenSpan.ToArray();
        lock (_gate)
        {
            Sent++;
            if (_random.NextDouble() < DropRate)
            {
                Dropped++;
                return true; // lost on the way: the sender cannot tell
            }
            if (kind == MessageKind.SnapshotChunk && CorruptChunk is { } corrupt && corrupt(bytes)) Corrupted++;
            _inFlight.Add((from, to, kind, bytes));
            Monitor.Pulse(_gate);
        }
        return true;
    }

    private void Dispatch()
    {
        while (true)
        {
            (ulong From, ulong To, MessageKind Kind, byte[] Payload) d;
            Action<ulong, MessageKind, byte[]>? handler;
            lock (_gate)
            {
                while (_inFlight.Count == 0 && !_disposed) Monitor.Wait(_gate, 50);
                if (_disposed) return;
                int i = _random.Next(Math.Min(ReorderWindow, _inFlight.Count));
                d = _inFlight[i];
                _inFlight.RemoveAt(i);
                _nodes.TryGetValue(d.To, out handler);
            }
            handler?.Invoke(d.From, d.Kind, d.Payload);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.PulseAll(_gate);
        }
        _dispatcher.Join();
    }

    private sealed class Link(LossyNetwork net, ulong self) : ISnapshotLink
    {
        public int MaxPayload => net.MaxPayload;
        public bool Send(ulong to, MessageKind kind, WireWriter payload) => net.Send(self, to, kind, payload);
    }
}
