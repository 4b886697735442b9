using System.Text;
using Courier.Server;

namespace Courier.Tests.Unit;

/// <summary>A handler is a function of a request: a test calls it with a request it makes, no server, no socket.</summary>
public sealed class HandlerUnitTests
{
    // What an application would map: server.Map("greet", Greet).
    private static ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> Greet(CourierRequest request, CancellationToken cancellationToken)
        => request.BodyText.Length == 0
            ? throw new ArgumentException("Whom should I greet?")
            : ValueTask.FromResult(CourierBody.Text($"hello, {request.BodyText}"));

    [Fact]
    public async Task A_handler_answers_a_request_made_by_hand()
    {
        var request = new CourierRequest("greet", CourierBody.Text("world"));

        var reply = await Greet(request, CancellationToken.None);

        Assert.Equal("hello, world", Encoding.UTF8.GetString(Assert.Single(reply).Span));
    }

    [Fact]
    public async Task A_handler_that_throws_is_seen_throwing_by_the_test()
    {
        // Served, the exception becomes a 500 reply; here the test sees the exception itself.
        await Assert.ThrowsAsync<ArgumentException>(async () => await Greet(new CourierRequest("greet", []), CancellationToken.None));
    }

    [Fact]
    public async Task The_built_in_handlers_answer_hand_made_requests_too()
    {
        var request = new CourierRequest("echo", CourierBody.Frames("a"u8.ToArray(), "b"u8.ToArray()));

        var echoed = await CourierServices.Echo(request, CancellationToken.None);
        var name = await CourierServices.WhoAmI("server-1")(new CourierRequest("whoami", []), CancellationToken.None);

        Assert.Equal(["a", "b"], echoed.Select(f => Encoding.UTF8.GetString(f.Span)));
        Assert.Equal("server-1", Encoding.UTF8.GetString(Assert.Single(name).Span));
    }

    [Fact]
    public void A_request_made_by_hand_reads_like_a_served_one()
    {
        var request = new CourierRequest("greet", CourierBody.Frames("first"u8.ToArray(), "second"u8.ToArray()));
        var empty = new CourierRequest("greet", []);

        Assert.Equal("greet", request.Service);
        Assert.Equal(2, request.Frames.Count);
        Assert.Equal("first", request.BodyText);
        Assert.True(empty.Body.IsEmpty);
        Assert.Equal("", empty.BodyText);
        Assert.Throws<ArgumentNullException>(() => new CourierRequest(null!, []));
        Assert.Throws<ArgumentNullException>(() => new CourierRequest("greet", null!));
    }
}
