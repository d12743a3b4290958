using System.Management.Automation;

namespace RaftPS.PowerShell;

/// <summary>
/// Base of every RaftPS cmdlet. Client calls are asynchronous but WriteObject/WriteError must run on the pipeline
/// thread, so cmdlets block on them here with a token that <see cref="StopProcessing"/> cancels: Ctrl+C ends any wait
/// at once.
/// </summary>
public abstract class RaftCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Cancelled when the pipeline stops (Ctrl+C, Stop-Job, PowerShell.Stop()).</summary>
    protected CancellationToken StopToken => _stop.Token;

    protected override void StopProcessing() => _stop.Cancel();

    /// <summary>Runs <paramref name="operation"/> to completion on this thread; a stop request becomes PipelineStoppedException.</summary>
    protected T Await<T>(Func<CancellationToken, Task<T>> operation)
    {
        try
        {
            return operation(StopToken).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }

    protected void Await(Func<CancellationToken, Task> operation) => Await<bool>(async ct =>
    {
        await operation(ct).ConfigureAwait(false);
        return true;
    });

    /// <summary>Sleeps up to <paramref name="delay"/>; returns at once when the pipeline stops (then throws PipelineStoppedException).</summary>
    protected void Sleep(TimeSpan delay)
    {
        if (StopToken.WaitHandle.WaitOne(delay)) throw new PipelineStoppedException();
    }

    /// <summary>Runs <paramref name="action"/>; an expected failure (cluster, argument, I/O) becomes a non-terminating error.</summary>
    protected bool TryRun(Action action, object? target)
    {
        try
        {
            action();
            return true;
        }
        catch (Exception e) when (RaftErrors.IsExpected(e))
        {
            WriteError(RaftErrors.From(e, target));
            return false;
        }
    }

    /// <summary>Runs <paramref name="action"/>; an expected failure ends the cmdlet with a terminating error.</summary>
    protected T RunOrThrow<T>(Func<T> action, object? target)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (RaftErrors.IsExpected(e))
        {
            ThrowTerminatingError(RaftErrors.From(e, target));
            throw; // not reached: ThrowTerminatingError always throws
        }
    }

    protected void Fail(string errorId, ErrorCategory category, string message, object? target) =>
        WriteError(RaftErrors.Create(errorId, category, message, target));

    protected void Terminate(string errorId, ErrorCategory category, string message, object? target) =>
        ThrowTerminatingError(RaftErrors.Create(errorId, category, message, target));

    public void Dispose()
    {
        _stop.Dispose();
        GC.SuppressFinalize(this);
    }
}
