using Courier.Client;
using Courier.Security;
using Courier.Server;
using Courier.Transport;

namespace Courier.Tests.Integration;

/// <summary>Never silently insecure: on either test run, security settings on the managed transport are refused.</summary>
public sealed class SecurityRefusalTests
{
    private static readonly CourierSecurityOptions AnyKeys = new() { CertificateFile = "server.key_secret" };

    [Fact]
    public void Server_with_security_settings_on_the_managed_transport_is_refused_at_construction()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new CourierServer(CourierServerOptions.Default with
        {
            Security = AnyKeys,
            Transport = TransportOptions.Default with { Implementation = TransportImplementation.Managed },
        }));

        Assert.Contains("needs the native transport", error.Message, StringComparison.Ordinal);
        Assert.Contains("ZMTP 1.0/2.0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Client_with_security_settings_on_the_managed_transport_is_refused_at_construction()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new CourierClient(CourierClientOptions.Default with
        {
            Security = AnyKeys with { ServerCertificateFile = "server.key" },
            Transport = TransportOptions.Default with { Implementation = TransportImplementation.Managed },
        }));

        Assert.Contains("needs the native transport", error.Message, StringComparison.Ordinal);
    }
}
