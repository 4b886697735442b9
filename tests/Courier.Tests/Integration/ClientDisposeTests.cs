using Courier.Client;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

/// <summary>Disposing a client ends every call made on it, including calls made while it is being disposed.</summary>
public sealed class ClientDisposeTests
{
    [Fact]
    public async Task Calls_racing_DisposeAsync_end_with_CourierClosedException_and_none_hangs()
    {
        // Nothing answers: only the disposal can end these calls (their attempts would last a minute).
        using var nobody = PortReservation.Any();
        for (var round = 0; round < 50; round++)
        {
            var client = TestServer.Client(nobody.Endpoint, o => o with { Timeout = TimeSpan.FromMinutes(1), Retries = 0 });
            var calls = new List<Task>();
            var made = 0;
            var caller = Task.Run(() =>
            {
                while (true)
                {
                    try
                    {
                        calls.Add(client.RequestAsync("echo", "x"u8.ToArray()));
                        Interlocked.Increment(ref made);
                    }
                    catch (ObjectDisposedException)
                    {
                        return;
                    }
                }
            });

            await Poll.UntilAsync(() => Volatile.Read(ref made) > 0, what: "calls in flight");
            await client.DisposeAsync();
            await caller;

            var ended = Task.WhenAll(calls);
            await Task.WhenAny(ended, Task.Delay(TimeSpan.FromSeconds(20)));
            Assert.True(ended.IsCompleted, $"round {round}: {calls.Count(c => !c.IsCompleted)} of {calls.Count} calls never ended");
            Assert.All(calls, c => Assert.IsType<CourierClosedException>(c.Exception?.InnerException));
        }
    }
}
