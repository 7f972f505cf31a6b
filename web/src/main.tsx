// Entry point of the web console (built by web/build.ts, served by the node at /).
import '@mantine/core/styles.css';
import './console.css';
import { createTheme, darken, MantineProvider, type CSSVariablesResolver } from '@mantine/core';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { setNonce } from 'get-nonce';
import { App } from './app/App.tsx';
import { SessionProvider } from './app/session.tsx';

// The node's Content-Security-Policy allows style tags only with this page load's nonce (no
// inline scripts at all); the component library writes its CSS variables in such a tag.
const nonce = document.querySelector('meta[name="csp-nonce"]')?.getAttribute('content') ?? '';
// Modals and drawers lock page scroll with a style tag written by react-remove-scroll, which takes
// its nonce from get-nonce: without it the CSP refuses the tag (and the test run fails on it).
setNonce(nonce);

const theme = createTheme({
  primaryColor: 'blue',
  // Filled buttons and badges: white text on shade 8 passes AA; the default shade 6 does not.
  primaryShade: 8,
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
  fontFamilyMonospace: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
});

// Mantine's default grays and light variants fall below WCAG AA contrast (4.5:1) on white, which the
// axe-core check of every page catches: text colours one or two shades darker.
const contrast: CSSVariablesResolver = (t) => ({
  variables: {},
  light: {
    '--mantine-color-dimmed': t.colors.gray[7]!,
    '--mantine-color-placeholder': t.colors.gray[7]!,
    ...Object.fromEntries(
      ['blue', 'green', 'red', 'orange', 'gray', 'yellow', 'teal', 'violet', 'grape', 'cyan'].flatMap((c) => [
        [`--mantine-color-${c}-light-color`, darken(t.colors[c]![9]!, 0.3)],
        [`--mantine-color-${c}-text`, darken(t.colors[c]![9]!, 0.3)],
        [`--mantine-color-${c}-filled`, darken(t.colors[c]![9]!, 0.2)],
        [`--mantine-color-${c}-filled-hover`, darken(t.colors[c]![9]!, 0.35)],
      ]),
    ),
    '--mantine-primary-color-light-color': t.colors.blue[9]!,
  },
  dark: {},
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <MantineProvider theme={theme} getStyleNonce={() => nonce} cssVariablesResolver={contrast} defaultColorScheme="light">
      <SessionProvider>
        <App />
      </SessionProvider>
    </MantineProvider>
  </StrictMode>,
);
