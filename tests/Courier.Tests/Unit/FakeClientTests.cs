using Courier.Client;
using Courier.Protocol;
using Courier.Server;

namespace Courier.Tests.Unit;

/// <summary>Code that takes an <see cref="ICourierClient"/> is tested with a fake one: no server, no socket, no waiting.</summary>
public sealed class FakeClientTests
{
    /// <summary>The code under test: what an application might write around a client.</summary>
    private sealed class Greeter(ICourierClient client)
    {
        public async Task<string> GreetAsync(string name, CancellationToken cancellationToken = default)
        {
            try
            {
                var reply = await client.RequestAsync("greet", name, cancellationToken);
                return reply.BodyText;
            }
            catch (CourierRemoteException ex) when (ex.StatusCode == CourierStatus.NotFound)
            {
                return "(nobody greets here)";
            }
        }
    }

    /// <summary>A fake implements the multi-frame overload and DisposeAsync; the text and one-frame ones default to it.</summary>
    private sealed class FakeClient(Func<string, IReadOnlyList<ReadOnlyMemory<byte>>, CourierReply> answer) : ICourierClient
    {
        public List<(string Service, string Body)> Requests { get; } = [];

        public Task<CourierReply> RequestAsync(string service, ReadOnlyMemory<byte>[] frames, CancellationToken cancellationToken = default)
        {
            Requests.Add((service, System.Text.Encoding.UTF8.GetString(frames[0].Span)));
            try
            {
                return Task.FromResult(answer(service, frames));
            }
            catch (CourierException ex)
            {
                return Task.FromException<CourierReply>(ex);
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task A_consumer_gets_the_fake_reply_and_the_fake_sees_the_request()
    {
        await using var fake = new FakeClient((service, frames) => new CourierReply(service, CourierBody.Text("hello, fake")));
        var greeter = new Greeter(fake);

        Assert.Equal("hello, fake", await greeter.GreetAsync("world"));
        Assert.Equal([("greet", "world")], fake.Requests);
    }

    [Fact]
    public async Task A_fake_can_answer_with_a_remote_error()
    {
        await using var fake = new FakeClient((service, _) => throw new CourierRemoteException(service, CourierStatus.NotFound, $"no service '{service}' here"));

        Assert.Equal("(nobody greets here)", await new Greeter(fake).GreetAsync("world"));
    }

    [Fact]
    public async Task The_one_frame_overload_defaults_to_the_multi_frame_one()
    {
        ICourierClient fake = new FakeClient((service, frames) => new CourierReply(service, frames));

        var reply = await fake.RequestAsync("echo", new ReadOnlyMemory<byte>("abc"u8.ToArray()));

        Assert.Equal("abc", reply.BodyText);
        Assert.Equal("echo", reply.Service);
    }
}
