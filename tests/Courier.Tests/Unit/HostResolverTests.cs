using System.Net;
using System.Net.Sockets;
using Courier.Transport.Internal;

namespace Courier.Tests.Unit;

/// <summary>
/// Sockets are handed addresses, never names (libzmq would look a name up on its I/O thread at every reconnect, and a
/// slow lookup stalls every connection of that thread): the resolver's choices, with a lookup the test controls.
/// </summary>
public sealed class HostResolverTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromMilliseconds(50);

    /// <summary>A lookup that answers what the test queues, in order, and counts its calls.</summary>
    private sealed class Lookups
    {
        private readonly Queue<Task<IPAddress[]>> _answers = new();

        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public void Answer(params string[] addresses) => Queue(Task.FromResult(addresses.Select(IPAddress.Parse).ToArray()));

        public void Fail() => Queue(Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound)));

        public TaskCompletionSource<IPAddress[]> Hang()
        {
            var hanging = new TaskCompletionSource<IPAddress[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            Queue(hanging.Task);
            return hanging;
        }

        private void Queue(Task<IPAddress[]> answer)
        {
            lock (_answers)
            {
                _answers.Enqueue(answer);
            }
        }

        public Task<IPAddress[]> LookUp(string name)
        {
            lock (_answers)
            {
                _calls++;
                return _answers.Dequeue();
            }
        }

        public HostResolver Resolver(TimeSpan? firstWait = null) => new(LookUp, firstWait ?? TimeSpan.FromSeconds(30), Wait);
    }

    [Theory]
    [InlineData("tcp://127.0.0.1:5555")]
    [InlineData("tcp://[::1]:5555")]
    [InlineData("ipc:///tmp/courier.sock")]
    [InlineData("inproc://courier")]
    public void Endpoints_without_a_host_name_are_connected_as_they_are(string endpoint)
    {
        var lookups = new Lookups();
        Assert.Equal(endpoint, lookups.Resolver().ForConnect(endpoint));
        Assert.Equal(0, lookups.Calls);
    }

    [Fact]
    public void A_name_is_connected_by_the_first_IPv4_address_it_resolves_to()
    {
        var lookups = new Lookups();
        lookups.Answer("::1", "10.89.0.7", "10.89.0.8");
        Assert.Equal("tcp://10.89.0.7:5555", lookups.Resolver().ForConnect("tcp://broker-b:5555"));
    }

    [Fact]
    public void A_reconnect_takes_the_last_address_at_once_while_a_slow_lookup_runs_and_starts_no_second_one()
    {
        var lookups = new Lookups();
        var resolver = lookups.Resolver();
        lookups.Answer("10.89.0.7");
        Assert.Equal("tcp://10.89.0.7:5555", resolver.ForConnect("tcp://broker-b:5555"));

        // The peer died: its name now takes long to fail (30 s on podman's network).
        var slow = lookups.Hang();
        Assert.Equal("tcp://10.89.0.7:5555", resolver.ForConnect("tcp://broker-b:5555"));
        Eventually(() => lookups.Calls, 2);
        Assert.Equal("tcp://10.89.0.7:5555", resolver.ForConnect("tcp://broker-b:5555"));
        Assert.Equal(2, lookups.Calls);

        slow.SetException(new SocketException((int)SocketError.TryAgain));
        lookups.Answer("10.89.0.9");
        Assert.Equal("tcp://10.89.0.9:5555", Eventually(() => resolver.ForConnect("tcp://broker-b:5555"), "tcp://10.89.0.9:5555"));
    }

    [Fact]
    public void A_name_that_never_resolved_connects_nowhere_and_is_looked_up_again_at_the_next_connect()
    {
        var lookups = new Lookups();
        var resolver = lookups.Resolver();
        lookups.Fail();
        Assert.Null(resolver.ForConnect("tcp://not-yet:5555"));

        lookups.Answer("10.89.0.3");
        Assert.Equal("tcp://10.89.0.3:5555", resolver.ForConnect("tcp://not-yet:5555"));
        Assert.Equal(2, lookups.Calls);
    }

    [Fact]
    public async Task A_connect_that_finds_no_address_yet_connects_when_the_slow_first_lookup_answers()
    {
        var lookups = new Lookups();
        var resolver = lookups.Resolver(firstWait: Wait);
        var slow = lookups.Hang();
        var connected = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.Null(resolver.ForConnect("tcp://slow:5555", e => connected.TrySetResult(e)));
        Assert.False(connected.Task.IsCompleted);

        slow.SetResult([IPAddress.Parse("10.89.0.4")]);
        Assert.Equal("tcp://10.89.0.4:5555", await connected.Task.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_second_connect_during_a_first_lookup_waits_for_none_and_connects_when_it_answers()
    {
        var lookups = new Lookups();
        var resolver = lookups.Resolver(firstWait: Wait);
        var slow = lookups.Hang();
        Assert.Null(resolver.ForConnect("tcp://broker:5555"));
        // The lookup runs on another thread: counted once it started (the fresh-clone CI read 0 here once).
        Assert.Equal(1, Eventually(() => lookups.Calls, 1));

        // Another loop's connect to the same name, on another port: no second lookup, no wait, connected on the answer.
        var connected = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.Null(resolver.ForConnect("tcp://broker:5556", e => connected.TrySetResult(e)));
        Assert.Equal(1, lookups.Calls);

        slow.SetResult([IPAddress.Parse("10.89.0.6")]);
        Assert.Equal("tcp://10.89.0.6:5556", await connected.Task.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void An_answer_with_no_IPv4_address_leaves_the_name_unresolved()
    {
        var lookups = new Lookups();
        lookups.Answer("::1");
        Assert.Null(lookups.Resolver().ForConnect("tcp://six-only:5555"));
    }

    /// <summary>Reads <paramref name="read"/> until it gives <paramref name="expected"/> (a lookup runs on another thread).</summary>
    private static T Eventually<T>(Func<T> read, T expected)
    {
        var limit = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        T got;
        while (!EqualityComparer<T>.Default.Equals(got = read(), expected) && DateTime.UtcNow < limit)
        {
            Thread.Sleep(10);
        }

        return got;
    }
}
