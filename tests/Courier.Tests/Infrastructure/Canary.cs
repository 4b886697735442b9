using Courier.Client;
using Courier.Worker;

namespace Courier.Tests.Infrastructure;

/// <summary>
/// A well-behaved client that keeps asking while a test attacks: every attack test asserts that it saw no errors. It
/// makes one request at a time, each with a fresh id, and checks each reply's body.
/// </summary>
public sealed class Canary : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<string> _errors = [];
    private long _answered;

    private Canary(string endpoint, string service, TimeSpan timeout, Func<CourierClientOptions, CourierClientOptions>? configure)
    {
        _loop = Task.Run(() => RunAsync(endpoint, service, timeout, configure));
    }

    /// <summary>Requests answered correctly so far.</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>Errors seen so far.</summary>
    public int ErrorCount
    {
        get
        {
            lock (_errors)
            {
                return _errors.Count;
            }
        }
    }

    /// <summary>
    /// A worker for a canary to ask: it echoes the request's frames (what the canary checks its replies by) after
    /// <paramref name="delay"/>; <paramref name="configure"/> adds to its options (a slower heartbeat, say).
    /// </summary>
    public static Task<CourierWorker> StartWorkerAsync(
        string endpoint, string service = "canary", TimeSpan delay = default, int concurrency = 10, Func<CourierWorkerOptions, CourierWorkerOptions>? configure = null)
        => TestBroker.StartWorkerAsync(endpoint, "canary-worker", delay, service, concurrency, configure,
            (request, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>([.. request.Frames]));

    /// <summary>
    /// Starts asking <paramref name="service"/> (an echo) at <paramref name="endpoint"/>, each request with
    /// <paramref name="timeout"/> (default 20 s), and waits for its first answer; <paramref name="configure"/> adds to
    /// its client's options (its CURVE keys, say).
    /// </summary>
    public static async Task<Canary> StartAsync(
        string endpoint, string service = "echo", TimeSpan? timeout = null, Func<CourierClientOptions, CourierClientOptions>? configure = null)
    {
        var canary = new Canary(endpoint, service, timeout ?? TimeSpan.FromSeconds(20), configure);
        await Poll.UntilAsync(() => canary.Answered > 0 || canary._loop.IsCompleted, TimeSpan.FromSeconds(30), "the canary's first answer");
        return canary;
    }

    /// <summary>Waits for a few more answers (so it asked during the attack), stops, and asserts it saw no error.</summary>
    public async Task AssertUnharmedAsync()
    {
        var before = Answered;
        await Poll.UntilAsync(() => Answered >= before + 3 || _loop.IsCompleted, TimeSpan.FromSeconds(60), "the canary answered during the attack");
        await _stop.CancelAsync();
        await _loop;
        lock (_errors)
        {
            Assert.True(_errors.Count == 0, "the canary saw errors:\n" + string.Join('\n', _errors.Take(10)));
        }

        Assert.True(Answered > 0, "the canary was never answered");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task RunAsync(string endpoint, string service, TimeSpan timeout, Func<CourierClientOptions, CourierClientOptions>? configure)
    {
        var options = CourierClientOptions.Default with
        {
            Endpoints = [endpoint],
            Timeout = timeout,
            Retries = 0,
        };
        await using var client = new CourierClient(configure?.Invoke(options) ?? options);
        for (var i = 0; !_stop.IsCancellationRequested; i++)
        {
            var body = $"canary {i}";
            try
            {
                var reply = await client.RequestAsync(service, body, _stop.Token);
                if (!reply.BodyText.EndsWith(body, StringComparison.Ordinal))
                {
                    lock (_errors)
                    {
                        _errors.Add($"wrong body: {reply.BodyText}");
                    }
                }
                else
                {
                    Interlocked.Increment(ref _answered);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // every failure is what the canary reports
            catch (Exception ex)
#pragma warning restore CA1031
            {
                lock (_errors)
                {
                    _errors.Add($"{ex.GetType().Name}: {ex.Message}");
                }
            }
        }
    }
}
