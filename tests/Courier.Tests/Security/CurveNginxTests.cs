using Courier.Security;
using Courier.Tests.Deploy;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Security;

/// <summary>CURVE end to end through Debian's nginx (a TCP stream proxy, holding no key), with `courier server` processes.</summary>
public sealed class CurveNginxTests
{
    [SkippableFact]
    public async Task Curve_client_reaches_every_curve_server_through_nginx_and_a_plaintext_client_is_refused()
    {
        LocalStackProcess.SkipUnlessNginx();
        await using var stack = await LocalStackProcess.UpAsync(servers: 2, secure: true);
        var keys = Path.Combine(stack.StateDir, "keys");
        var security = new CourierSecurityOptions
        {
            CertificateFile = Path.Combine(keys, "client.key_secret"),
            ServerCertificateFile = Path.Combine(keys, "server.key"),
        };

        var seen = new HashSet<string>();
        for (var i = 0; i < 60 && seen.Count < 2; i++)
        {
            await using var client = TestServer.Client(stack.Endpoint, o => o with { Security = security, Timeout = TimeSpan.FromSeconds(10) });
            seen.Add((await client.RequestAsync("whoami", "")).BodyText);
        }

        await using var plain = TestServer.Client(stack.Endpoint, o => o with { Timeout = TimeSpan.FromMilliseconds(700), Retries = 1 });
        Assert.Equal(["server-1", "server-2"], seen.Order());
        await Assert.ThrowsAsync<CourierTimeoutException>(() => plain.RequestAsync("whoami", ""));
    }
}
