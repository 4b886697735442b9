using Courier.Client;

namespace Courier.Tests.Infrastructure;

/// <summary>
/// A well-behaved client running alongside an attack: it sends one request after another to <c>service</c> and keeps
/// every error it sees. An attack that a bound contains leaves it with none.
/// </summary>
public sealed class Canary : IAsyncDisposable
{
    private readonly CourierClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<Exception> _errors = [];
    private int _served;

    private Canary(string endpoint, string service, TimeSpan timeout)
    {
        _client = TestServer.Client(endpoint, o => o with { Timeout = timeout, Retries = 0 });
        _loop = Task.Run(() => RunAsync(service));
    }

    /// <summary>Starts the canary on a service that must already be served; returns once its first request was answered.</summary>
    public static async Task<Canary> StartAsync(string endpoint, string service = "canary", TimeSpan? timeout = null)
    {
        var canary = new Canary(endpoint, service, timeout ?? TimeSpan.FromSeconds(10));
        await Poll.UntilAsync(() => canary.Served > 0 || canary.Errors.Count > 0, what: "the canary's first reply");
        return canary;
    }

    public int Served => Volatile.Read(ref _served);

    public IReadOnlyList<Exception> Errors
    {
        get
        {
            lock (_errors)
            {
                return [.. _errors];
            }
        }
    }

    /// <summary>Stops it, and asserts it saw no error and was served at least <paramref name="atLeast"/> more times after <paramref name="since"/>.</summary>
    public async Task AssertUnharmedAsync(int since = 0, int atLeast = 1)
    {
        // A last request after the attack, so that a canary stalled by it cannot pass unnoticed.
        var before = Served;
        await Poll.UntilAsync(() => Served > before || Errors.Count > 0, what: "a canary reply after the attack");
        await DisposeAsync();
        Assert.True(Errors.Count == 0, $"the canary saw {Errors.Count} error(s): {string.Join("; ", Errors.Take(3).Select(e => e.Message))}");
        Assert.True(Served - since >= atLeast, $"the canary was served {Served - since} times");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        await _client.DisposeAsync();
        _stop.Dispose();
    }

    private async Task RunAsync(string service)
    {
        for (var i = 0; !_stop.IsCancellationRequested; i++)
        {
            try
            {
                var body = $"canary {i}";
                var reply = await _client.RequestAsync(service, body, _stop.Token);
                if (!reply.BodyText.Contains(body, StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"wrong reply: {reply.BodyText}");
                }

                Interlocked.Increment(ref _served);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // the canary's job is to collect whatever goes wrong
            catch (Exception ex)
#pragma warning restore CA1031
            {
                lock (_errors)
                {
                    _errors.Add(ex);
                }
            }
        }
    }
}
