using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Courier.Extensions.Hosting.Internal;

/// <summary>Where a hosted server, worker or broker is in its life, for its health check.</summary>
internal enum PartState
{
    NotStarted,
    Running,
    Stopping,
    Stopped,
}

/// <summary>How the host starts, stops and checks one part.</summary>
internal sealed record PartLifetime(Func<CancellationToken, Task> Start, Func<CancellationToken, Task> Stop, Func<CancellationToken, Task<HealthCheckResult>> Check);

/// <summary>
/// Starts and stops one server, worker or broker with the host. The host's stop token (its shutdown timeout) bounds the
/// graceful drain: when it fires first, handlers still running are cancelled and the stop completes.
/// </summary>
internal sealed class HostedPart(string part, string name, PartLifetime lifetime, ILogger logger) : IHostedService
{
    private int _state;

    public string Part => part;

    public string Name => name.Length == 0 ? "(default)" : name;

    public PartState State => (PartState)Volatile.Read(ref _state);

    /// <summary>How the part is, for its health check: its state, then (when running) what its own probe finds.</summary>
    public async Task<HealthCheckResult> CheckAsync(CancellationToken cancellationToken)
        => State switch
        {
            PartState.Running => await lifetime.Check(cancellationToken).ConfigureAwait(false),
            PartState.NotStarted => HealthCheckResult.Unhealthy($"Courier {part} {Name} has not started"),
            PartState.Stopping => HealthCheckResult.Unhealthy($"Courier {part} {Name} is stopping (draining what it holds)"),
            _ => HealthCheckResult.Unhealthy($"Courier {part} {Name} has stopped"),
        };

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await lifetime.Start(cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _state, (int)PartState.Running);
        HostLog.Started(logger, part, Name);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, (int)PartState.Stopping, (int)PartState.Running) != (int)PartState.Running)
        {
            return;
        }

        try
        {
            await lifetime.Stop(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            HostLog.ShutdownTimeout(logger, part, Name);
        }
        finally
        {
            Volatile.Write(ref _state, (int)PartState.Stopped);
        }

        HostLog.Stopped(logger, part, Name);
    }
}
