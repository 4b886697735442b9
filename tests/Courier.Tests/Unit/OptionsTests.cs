using Courier.Client;
using Courier.Server;
using Courier.Transport;
using Courier.Worker;

namespace Courier.Tests.Unit;

public sealed class OptionsTests
{
    [Fact]
    public void Defaults_are_valid()
    {
        CourierClientOptions.Default.Validate();
        CourierServerOptions.Default.Validate();
        TransportOptions.Default.Validate();
    }

    [Fact]
    public void Transport_defaults_bound_message_size_and_queues()
    {
        var t = TransportOptions.Default;

        Assert.InRange(t.MaxFrameSize, 1, int.MaxValue);
        Assert.True(t.SendHighWatermark > 0 && t.ReceiveHighWatermark > 0);
        Assert.True(t.HeartbeatTimeout > t.HeartbeatInterval);
        Assert.Equal(32 * 1024 * 1024, t.MaxPendingBytesPerPeer);
    }

    [Fact]
    public void Transport_rejects_a_pending_byte_budget_that_is_not_positive()
    {
        var error = Assert.Throws<ArgumentException>(() => (TransportOptions.Default with { MaxPendingBytesPerPeer = 0 }).Validate());
        Assert.Contains("MaxPendingBytesPerPeer must be positive", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Transport_rejects_a_frame_limit_without_room_for_envelopes_and_a_body()
    {
        var error = Assert.Throws<ArgumentException>(() => (TransportOptions.Default with { MaxFramesPerMessage = 63 }).Validate());
        Assert.Contains("MaxFramesPerMessage must be at least 64", error.Message, StringComparison.Ordinal);
        (TransportOptions.Default with { MaxFramesPerMessage = 64 }).Validate();
        Assert.Equal(1024, TransportOptions.Default.MaxFramesPerMessage);
    }

    [Fact]
    public void Transport_rejects_a_heap_budget_that_is_not_positive_and_derives_one_when_none_is_given()
    {
        var error = Assert.Throws<ArgumentException>(() => (TransportOptions.Default with { NativeHeapBudget = 0 }).Validate());
        Assert.Contains("NativeHeapBudget must be positive", error.Message, StringComparison.Ordinal);
        Assert.Null(TransportOptions.Default.NativeHeapBudget);
        Assert.InRange(Courier.Transport.Internal.Native.UnfinishedMessages.Effective(null), 64L << 20, 1L << 30);
        Assert.Equal(5_000_000, Courier.Transport.Internal.Native.UnfinishedMessages.Effective(5_000_000));
    }

    [Fact]
    public void Client_takes_no_endpoints_for_the_default_one_and_rejects_a_null_list_with_a_clear_message()
    {
        var none = CourierClientOptions.Default with { Endpoints = [] };
        none.Validate();
        Assert.Equal(["tcp://127.0.0.1:5555"], none.ConnectEndpoints);

        var error = Assert.Throws<ArgumentException>(() => new CourierClient(CourierClientOptions.Default with { Endpoints = null! }));
        Assert.Contains("CourierClientOptions.Endpoints must not be null", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Client_rejects_a_non_positive_timeout()
    {
        var error = Assert.Throws<ArgumentException>(() => CourierClientOptions.Default with { Timeout = TimeSpan.Zero } is var o ? new CourierClient(o) : null);

        Assert.Contains("Timeout must be positive", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Transport_rejects_a_heartbeat_timeout_shorter_than_the_interval()
    {
        var options = CourierServerOptions.Default with
        {
            Transport = TransportOptions.Default with { HeartbeatInterval = TimeSpan.FromSeconds(10), HeartbeatTimeout = TimeSpan.FromSeconds(1) },
        };

        var error = Assert.Throws<ArgumentException>(() => new CourierServer(options));
        Assert.Contains("HeartbeatTimeout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Transport_takes_a_zero_heartbeat_interval_as_heartbeats_off_and_rejects_a_negative_one()
    {
        var off = TransportOptions.Default with { HeartbeatInterval = TimeSpan.Zero };
        off.Validate();
        Assert.False(off.HeartbeatsEnabled);
        Assert.True(TransportOptions.Default.HeartbeatsEnabled);

        var error = Assert.Throws<ArgumentException>(() => (TransportOptions.Default with { HeartbeatInterval = TimeSpan.FromSeconds(-1) }).Validate());
        Assert.Contains("HeartbeatInterval must not be negative", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Server_rejects_reserved_and_invalid_service_names()
    {
        var server = new CourierServer(CourierServerOptions.Default);

        Assert.Throws<ArgumentException>(() => server.Map("mmi.mine", CourierServices.Echo));
        Assert.Throws<ArgumentException>(() => server.Map("", CourierServices.Echo));
        Assert.Throws<ArgumentException>(() => server.Map(new string('x', 256), CourierServices.Echo));
    }

    [Fact]
    public async Task Worker_rejects_reserved_and_invalid_service_names_a_non_positive_concurrency_and_starting_without_services()
    {
        await using var worker = new CourierWorker(CourierWorkerOptions.Default);

        Assert.Throws<ArgumentException>(() => worker.Map("mmi.mine", CourierServices.Echo));
        Assert.Throws<ArgumentException>(() => worker.Map("", CourierServices.Echo));
        Assert.Throws<ArgumentException>(() => worker.Map("bad\u0001name", CourierServices.Echo));
        Assert.Throws<ArgumentException>(() => worker.Map(new string('x', 256), CourierServices.Echo));
        Assert.Throws<ArgumentOutOfRangeException>(() => worker.Map("echo", CourierServices.Echo, concurrency: 0));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => worker.StartAsync());
        Assert.Contains("Map at least one service", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_rejects_invalid_request_arguments_before_sending()
    {
        await using var client = new CourierClient(CourierClientOptions.Default with
        {
            Transport = TransportOptions.Default with { MaxFrameSize = 100 },
        });

        await Assert.ThrowsAsync<ArgumentException>(() => client.RequestAsync("", "x"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.RequestAsync("echo", new byte[101]));
    }
}
