using Courier.Server;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

public sealed class ServerHandlerTests
{
    [Theory]
    [InlineData(false, "(thread pool)")]
    [InlineData(true, "courier-server")]
    public async Task Handler_runs_on_the_thread_pool_unless_inline_is_asked_for(bool inline, string expectedThread)
    {
        string? thread = null;
        await using var server = await TestServer.StartAsync(o => o with { RunHandlersInline = inline }, s => s.Map("where", (request, _) =>
        {
            thread = Thread.CurrentThread.Name;
            return ValueTask.FromResult(request.Frames);
        }));
        await using var client = TestServer.Client(server.Endpoint!);

        Assert.Equal("x", (await client.RequestAsync("where", "x")).BodyText);
        Assert.StartsWith(expectedThread, thread == ".NET TP Worker" ? "(thread pool)" : thread, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inline_handlers_beyond_the_concurrency_limit_queue_and_are_all_answered_in_order()
    {
        // One at a time: everything after the first waits in the queue, mixing synchronous and awaiting handlers.
        await using var server = await TestServer.StartAsync(
            o => o with { RunHandlersInline = true, MaxConcurrency = 1, MaxQueuedRequests = 10_000 },
            s => s.Map("mixed", async (request, cancellationToken) =>
            {
                if (request.Frames[0].Span[0] % 7 == 0)
                {
                    await Task.Yield();
                }

                return request.Frames;
            }));
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });

        var replies = await Task.WhenAll(Enumerable.Range(0, 5000).Select(i => client.RequestAsync("mixed", new byte[] { (byte)i, (byte)(i >> 8) })));

        Assert.Equal(Enumerable.Range(0, 5000), replies.Select(r => r.Body.Span[0] | (r.Body.Span[1] << 8)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Inline_handler_that_throws_before_or_after_awaiting_is_answered_500(bool afterAwait)
    {
        await using var server = await TestServer.StartAsync(o => o with { RunHandlersInline = true }, s => s.Map("fail", afterAwait ? FailsLate : FailsEarly));
        await using var client = TestServer.Client(server.Endpoint!);

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("fail", "x"));

        Assert.Equal(500, error.StatusCode);
        Assert.Matches("^handler failed; error id [0-9a-f]{12}$", error.RemoteMessage);
    }

    private static async ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> FailsLate(CourierRequest request, CancellationToken cancellationToken)
    {
        await Task.Delay(10, cancellationToken);
        throw new InvalidOperationException("late");
    }

    private static ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> FailsEarly(CourierRequest request, CancellationToken cancellationToken)
        => throw new InvalidOperationException("early");
}
