using Courier.Client.Internal;

namespace Courier.Tests.Unit;

/// <summary>How a request's end is tagged: <c>rpc.response.status_code</c> for a status, else a short fixed <c>error.type</c>.</summary>
public sealed class ClientTelemetryTests
{
    public static TheoryData<Exception?, int, string?> Ends => new()
    {
        { null, 200, null },
        { new CourierRemoteException("svc", 503, "stopping"), 503, null },
        { new CourierOutcomeUnknownException("svc", "its worker died"), 520, null },
        { new CourierTimeoutException("svc", 4, TimeSpan.FromSeconds(10)), 0, "timeout" },
        { new CourierUnreachableException("tcp://nowhere:1", null), 0, "unreachable" },
        { new CourierClosedException("The client was disposed."), 0, "closed" },
        { new CourierProtocolException("Reply has no valid status."), 0, "protocol" },
        { new InvalidOperationException("anything else"), 0, "_OTHER" },
    };

    [Theory]
    [MemberData(nameof(Ends))]
    public void Request_end_is_tagged_with_its_status_or_a_short_error_type_never_a_type_name(Exception? error, int status, string? errorType)
        => Assert.Equal((status, errorType), ClientTelemetry.Outcome(error));
}
