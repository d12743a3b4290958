using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace RaftPS.PowerShell;

/// <summary>
/// Node log lines ("HH:mm:ss.fff Level category: message") appended to a file. The node logs from its own threads,
/// where a cmdlet may not write, so a background node logs to a file; a foreground node also queues warnings for
/// the pipeline thread to show.
/// </summary>
internal sealed class FileLoggerFactory : ILoggerFactory
{
    private const int MaxQueuedWarnings = 1000;
    private readonly object _gate = new();
    private readonly StreamWriter? _file;
    private readonly LogLevel _minimum;

    public FileLoggerFactory(string? path, LogLevel minimum)
    {
        _minimum = minimum;
        if (path is not null)
            _file = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
    }

    /// <summary>Warnings and errors not yet shown by the pipeline thread.</summary>
    public ConcurrentQueue<string> Warnings { get; } = new();

    public void Write(string line)
    {
        lock (_gate) _file?.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {line}");
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("the node log writes to one file");

    public void Dispose()
    {
        lock (_gate) _file?.Dispose();
    }

    private sealed class Logger(FileLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner._minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            string message = formatter(state, exception) + (exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})");
            owner.Write($"{logLevel} {category}: {message}");
            if (logLevel >= LogLevel.Warning && owner.Warnings.Count < MaxQueuedWarnings) owner.Warnings.Enqueue(message);
        }
    }
}
