using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using Viper.Engine.Tests.Support;
using Viper.Imaging;
using Xunit.Abstractions;

namespace Viper.Engine.Tests.Studio;

/// <summary>
/// The page as a person uses it, in headless chromium against the studio on Kestrel (127.0.0.1, a free port): pick three
/// images, comment, extract with the scripted tiny extractor, edit the chips, generate with the tiny SDXL, and see two
/// images with two scores; then cancel a long generation from the page. The finished page is saved as
/// artifacts/studio/finished-page.png (and the page as the test left it as last-page.png).
/// </summary>
public sealed class StudioBrowserTests(StudioModels models, ITestOutputHelper output) : IClassFixture<StudioModels>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [BrowserFact]
    public async Task PickCommentExtractEditGenerateAndCompare()
    {
        using var workspace = new TempFolder();
        using var starter = new TempFolder();
        string fixtures = Path.Combine(RepoPaths.Root, "tests", "fixtures", "images");
        foreach (string file in Directory.GetFiles(fixtures, "*.png"))
        {
            File.Copy(file, Path.Combine(starter.Path, Path.GetFileName(file)));
        }

        using StudioFactory factory = StudioFactory.Create(workspace.Path, models.Pipelines.Sdxl, models.Extractor, metric: true);
        using IHost host = Viper.Studio.StudioHost.CreateBuilder(factory.Options with { StarterFolder = starter.Path, Url = "http://127.0.0.1:0" }).Build();
        Assert.Empty(Viper.Studio.StudioHost.Prepare(host));
        await host.StartAsync();
        string url = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        using ChromeDriverService service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(BrowserFactAttribute.ChromeDriver)!, Path.GetFileName(BrowserFactAttribute.ChromeDriver));
        service.SuppressInitialDiagnosticInformation = true;
        using var profile = new TempFolder();
        var options = new ChromeOptions { BinaryLocation = BrowserFactAttribute.Chromium };
        // A new empty profile, and nothing that reaches out: on a closed network chromium's background connections are
        // refused many at a time and its start looks up Google's hosts, which can stall a page under test.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1300,1900",
            "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            $"--user-data-dir={profile.Path}");
        using var browser = new ChromeDriver(service, options, Patience);
        try
        {
            browser.Navigate().GoToUrl(url);
            Until<string>(() => browser.FindElements(By.CssSelector("#grid figure")).Count >= 3 ? "" : null);
            string[] comments = ["I love the soft pastel colours.", "Far too harsh and busy.", "The warm light is lovely."];
            for (int i = 0; i < 3; i++)
            {
                // the grid re-renders on every pick: find the figure afresh (and again if it went stale under the click)
                Until<string>(() =>
                {
                    browser.FindElements(By.CssSelector("#grid figure"))[i].Click();
                    return "";
                });
                Until<string>(() => browser.FindElements(By.CssSelector("#picked .card")).Count == i + 1 ? "" : null);
            }

            IWebElement[] cards = [.. browser.FindElements(By.CssSelector("#picked .card"))];
            Assert.Equal(3, cards.Length);
            for (int i = 0; i < 3; i++)
            {
                cards[i].FindElement(By.TagName("textarea")).SendKeys(comments[i]);
            }

            cards[0].FindElement(By.CssSelector("select option[value=liked]")).Click();
            cards[1].FindElement(By.CssSelector("select option[value=disliked]")).Click();
            Assert.Contains("3 comments", browser.FindElement(By.Id("comment-count")).Text, StringComparison.Ordinal);

            browser.FindElement(By.Id("extract")).Click();
            Until(() => Chips(browser, "likes") is ["watercolor", "pastel tones"] ? "" : null);
            Assert.Contains("DISLIKED ART FEATURES", browser.FindElement(By.Id("extract-text")).Text, StringComparison.Ordinal);
            Assert.Equal(["neon"], Chips(browser, "dislikes"));

            // Edit: move "pastel tones" to the dislikes, add a like; the server's preferences follow.
            browser.FindElements(By.CssSelector("#likes li"))[1].FindElement(By.ClassName("move")).Click();
            browser.FindElement(By.Id("add-like")).SendKeys("gold leaf" + Keys.Enter);
            Until(() => Chips(browser, "likes") is ["watercolor", "gold leaf"] && browser.FindElement(By.Id("prefs-status")).Text == "saved" ? "" : null);
            using var http = new HttpClient { BaseAddress = new Uri(url) };
            Until(() => http.GetFromJsonAsync<JsonObject>("/api/preferences").Result!["dislikes"]!.ToJsonString() == """["neon","pastel tones"]""" ? "" : null);

            browser.FindElement(By.Id("prompt")).SendKeys("a lighthouse at dawn");
            IWebElement steps = browser.FindElement(By.Id("steps"));
            steps.Clear();
            steps.SendKeys("3");
            browser.FindElement(By.Id("generate")).Click();
            string[] scores = Until<string[]>(() => browser.FindElements(By.CssSelector(".results .score")).Select(s => s.Text).ToArray() is [{ Length: > 0 } a, { Length: > 0 } b] ? [a, b] : null);
            Assert.All(scores, s => Assert.Matches(@"^score 0\.\d{3}$", s));
            // What the device holds after the job: the metric, loaded last (a model not yet measured loads alone).
            Until<string>(() => browser.FindElement(By.Id("resident")).Text is var held && System.Text.RegularExpressions.Regex.IsMatch(held, @"^cpu: metric \(\d+ MiB\)$") ? "" : null);
            foreach (string side in new[] { "result-personalized", "result-plain" })
            {
                IWebElement image = browser.FindElement(By.CssSelector($"#{side} img"));
                Assert.True(image.Displayed, side);
                Assert.True(browser.ExecuteScript("return arguments[0].complete && arguments[0].naturalWidth > 0", image) is true, side);
            }

            Assert.True(browser.FindElement(By.Id("message")).GetAttribute("hidden") is not null, browser.FindElement(By.Id("message")).Text);
            string finished = browser.FindElement(By.CssSelector("#result-plain img")).GetAttribute("src")!;
            Screenshot(browser, "finished-page.png");

            // A long generation cancelled from the page: it stops, says so, and no new image takes the last one's place.
            steps.Clear();
            steps.SendKeys("150");
            browser.FindElement(By.Id("generate")).Click();
            Until<string>(() => browser.FindElement(By.Id("generate-status")).Text.Contains("base", StringComparison.Ordinal) ? "" : null);
            browser.FindElement(By.Id("generate-cancel")).Click();
            Until<string>(() => browser.FindElement(By.Id("generate-status")).Text == "cancelled" ? "" : null);
            Assert.True(browser.FindElement(By.Id("generate")).Enabled);
            Assert.Equal(finished, browser.FindElement(By.CssSelector("#result-plain img")).GetAttribute("src"));
        }
        finally
        {
            Screenshot(browser, "last-page.png"); // where the page was when the test ended, passed or not
            await host.StopAsync();
        }

        Assert.True(ImageFile.Load(Path.Combine(Artifacts, "finished-page.png")).Width > 0);
    }

    private static string Artifacts => Path.Combine(RepoPaths.Root, "artifacts", "studio");

    private void Screenshot(ChromeDriver browser, string name)
    {
        Directory.CreateDirectory(Artifacts);
        browser.GetScreenshot().SaveAsFile(Path.Combine(Artifacts, name));
        output.WriteLine($"screenshot: {Path.Combine(Artifacts, name)}");
    }

    private static string[] Chips(IWebDriver browser, string side) =>
        [.. browser.FindElements(By.CssSelector($"#{side} li span")).Select(s => s.Text)];

    /// <summary>Polls <paramref name="probe"/> until it gives a value (the page works asynchronously), up to <see cref="Patience"/>.</summary>
    private static T Until<T>(Func<T?> probe)
        where T : class
    {
        DateTime deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            try
            {
                if (probe() is { } value)
                {
                    return value;
                }
            }
            catch (StaleElementReferenceException)
            {
                // the page re-rendered between finding and reading: look again
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the page did not get there in {Patience.TotalSeconds} s");
            }

            Thread.Sleep(100);
        }
    }
}
