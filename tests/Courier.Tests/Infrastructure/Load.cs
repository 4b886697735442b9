using Courier.Client;

namespace Courier.Tests.Infrastructure;

/// <summary>Pipelined load for fault tests: 20 request loops per client, counting what is served and keeping every failure.</summary>
public sealed class Load : IAsyncDisposable
{
    private readonly CourierClient[] _clients;
    private readonly List<Exception> _failures = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _loops;
    private long _served;

    private Load(CourierClient[] clients, string service, Func<CourierClient, string, Task<CourierReply>>? request)
    {
        _clients = clients;
        request ??= (client, body) => client.RequestAsync(service, body);
        _loops = [.. clients.SelectMany(c => Enumerable.Range(0, 20).Select(_ => Task.Run(() => RunAsync(c, request))))];
    }

    public long Served => Interlocked.Read(ref _served);

    /// <summary>Starts 20 loops per client, each sending <paramref name="service"/> one request after another.</summary>
    public static Load Start(IEnumerable<CourierClient> clients, string service = "echo", Func<CourierClient, string, Task<CourierReply>>? request = null)
        => new([.. clients], service, request);

    public Task UntilServedAsync(long count) => Poll.UntilAsync(() => Served >= count, TimeSpan.FromSeconds(120), $"{count} requests served");

    /// <summary>Stops the loops (each finishes its request) and returns every failure seen.</summary>
    public async Task<Exception[]> StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(120));
        lock (_failures)
        {
            return [.. _failures];
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(120)).ContinueWith(_ => { }, TaskScheduler.Default);
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        _stop.Dispose();
    }

    private async Task RunAsync(CourierClient client, Func<CourierClient, string, Task<CourierReply>> request)
    {
        var i = 0;
        while (!_stop.IsCancellationRequested)
        {
            var body = $"m{i++}";
            try
            {
                var reply = await request(client, body);
                if (reply.BodyText != body)
                {
                    throw new InvalidOperationException($"sent {body}, got {reply.BodyText}");
                }

                Interlocked.Increment(ref _served);
            }
            catch (Exception ex) when (ex is CourierException or InvalidOperationException)
            {
                lock (_failures)
                {
                    _failures.Add(ex);
                }
            }
        }
    }
}
