using Courier.Transport;
using Courier.Transport.Internal;

namespace Courier.Tests.Infrastructure;

/// <summary>The transport this test assembly runs on (TransportSetup picks it: native here, managed in Courier.Tests.Managed).</summary>
public static class TestTransport
{
    /// <summary>Whether these tests run on the managed transport (NetMQ).</summary>
    public static bool IsManaged => TransportResolver.AutoMeans == TransportImplementation.Managed;
}
